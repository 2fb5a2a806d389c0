import ArgumentParser
import Foundation
import Retrieval

/// `rlhf rag eval`: SQuAD EM/F1 of a model on a QA file, open-book (top k passages) or closed-book, with recall@k.
struct RAGEvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Exact match, token F1 and retrieval recall@k of a model on QA pairs (open-book unless --closed-book).")

    @Option(name: .long, help: "Model directory (Hugging Face layout with tokenizer.json).")
    var model: String

    @Option(name: .long, help: "A rag-inject artifact (its knowledge/ is used), a knowledge directory, or an index file.")
    var knowledge: String

    @Option(name: .long, help: "QA JSONL: one {\"id\", \"question\", \"answer\" or \"answers\"} object per line.")
    var questions: String

    @Option(name: .long, help: "Passages per prompt and k of recall@k.")
    var topK: Int = 3

    @Option(name: .long, help: "Evaluate the first N questions only.")
    var limit: Int?

    @Option(name: .long, help: "Answer tokens at most.")
    var maxNewTokens: Int = 24

    @Option(name: .long, help: "Prompts per generation batch.")
    var batchSize: Int = 16

    @Flag(name: .long, help: "No passage in the prompt (recall@k is still measured).")
    var closedBook = false

    @Flag(name: .long, help: "Print {\"exact_match\", \"f1\", \"recall_at_k\", \"n\"} as JSON.")
    var json = false

    @Option(name: .long, help: "Also write every prediction as JSONL here.")
    var predictions: String?

    func validate() throws {
        guard topK >= 1 else { throw ValidationError("--top-k must be at least 1") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() throws {
        let rag = try RAGModel.load(modelDirectory: URL(fileURLWithPath: model), knowledge: URL(fileURLWithPath: knowledge))
        var examples = try QADataset.load(contentsOf: URL(fileURLWithPath: questions))
        if let limit { examples = Array(examples.prefix(limit)) }
        let evaluation = try rag.evaluate(
            examples, mode: closedBook ? .closedBook : .openBook, topK: topK, batchSize: batchSize, maxNewTokens: maxNewTokens)
        if let predictions {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            var text = ""
            for p in evaluation.predictions { text += String(decoding: try encoder.encode(p), as: UTF8.self) + "\n" }
            try Data(text.utf8).write(to: URL(fileURLWithPath: predictions), options: .atomic)
        }
        let r = evaluation.result
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(r), as: UTF8.self))
        } else {
            let recall = r.recallAtK.map { String(format: "%.3f", $0) } ?? "n/a"
            print("\(evaluation.mode.rawValue): exact_match \(String(format: "%.3f", r.exactMatch))  f1 \(String(format: "%.3f", r.f1))  "
                + "recall@\(topK) \(recall)  n \(r.n)")
        }
    }
}
