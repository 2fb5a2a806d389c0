import ArgumentParser
import Foundation
import Retrieval

/// `rlhf rag recall`: retrieval recall@k of an index on a QA file, and query latency.
struct RAGRecallCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recall",
        abstract: "Measure recall@k (an answer inside a top-k chunk) of a knowledge index on a QA JSONL file.")

    @OptionGroup var knowledgeOptions: KnowledgeOptions

    @Option(name: .long, help: "QA JSONL file ({\"id\", \"question\", \"answer\"} or \"answers\": [...]).")
    var questions: String

    @Option(name: .long, help: "Comma-separated cut-offs.")
    var k: String = "1,3,5"

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() throws {
        let ks = k.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !ks.isEmpty, ks.allSatisfy({ $0 >= 1 }) else { throw ValidationError("--k must be integers >= 1, e.g. 1,3,5") }
        let index = try KnowledgeIndex(contentsOf: KnowledgeIndex.indexURL(knowledgeOptions.knowledge), titleWeight: knowledgeOptions.titleWeight)
        let examples = try QADataset.load(contentsOf: URL(fileURLWithPath: questions))
        // Latency: the searches alone, at the largest k.
        let started = Date()
        for example in examples { _ = try index.search(example.question, topK: ks.max() ?? 1) }
        let seconds = Date().timeIntervalSince(started)
        let latency = examples.isEmpty ? 0 : seconds / Double(examples.count) * 1000
        let recall = try QAEvaluator.recall(examples, retriever: index, ks: ks)
        if json {
            var object: [String: Any] = ["n": examples.count, "mean_query_ms": latency]
            for (cut, value) in recall { object["recall_at_\(cut)"] = value }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        let parts = recall.keys.sorted().map { "recall@\($0) \(String(format: "%.4f", recall[$0] ?? 0))" }
        print("n \(examples.count)  " + parts.joined(separator: "  ")
            + "  mean query \(String(format: "%.2f", latency)) ms (top \(ks.max() ?? 0))")
    }
}
