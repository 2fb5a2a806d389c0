import ArgumentParser
import Foundation
import Retrieval

/// `rlhf ask`: retrieve passages for a question and answer it with a model (greedy).
struct AskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ask",
        abstract: "Answer a question from retrieved passages: prints the passages (id, BM25 score) and the model's answer.")

    @Option(name: .long, help: "Model directory (Hugging Face layout with tokenizer.json), e.g. a rag-inject artifact.")
    var model: String

    @Option(name: .long, help: "A rag-inject artifact (its knowledge/ is used), a knowledge directory, or an index file.")
    var knowledge: String

    @Option(name: .long, help: "Passages in the prompt (0: closed book).")
    var topK: Int = 3

    @Option(name: .long, help: "Answer tokens at most.")
    var maxNewTokens: Int = 32

    @Flag(name: .long, help: "Print JSON: {\"question\", \"passages\": [{\"id\", \"title\", \"score\", \"text\"}], \"answer\"}.")
    var json = false

    @Argument(help: "The question.")
    var question: String

    func validate() throws {
        guard topK >= 0 else { throw ValidationError("--top-k must be at least 0") }
        guard maxNewTokens >= 1 else { throw ValidationError("--max-new-tokens must be at least 1") }
    }

    func run() throws {
        let rag = try RAGModel.load(modelDirectory: URL(fileURLWithPath: model), knowledge: URL(fileURLWithPath: knowledge))
        let (passages, answer) = try rag.ask(question, topK: topK, maxNewTokens: maxNewTokens)
        if json {
            let object: [String: Any] = [
                "question": question, "answer": answer,
                "passages": passages.map { ["id": $0.reference, "title": $0.title, "score": $0.score, "text": $0.text] },
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        for (rank, chunk) in passages.enumerated() {
            print("[\(rank + 1)] \(chunk.reference)  score \(String(format: "%.3f", chunk.score))  \(chunk.title)")
            print("    " + chunk.text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " "))
        }
        print("Answer: \(answer)")
    }
}
