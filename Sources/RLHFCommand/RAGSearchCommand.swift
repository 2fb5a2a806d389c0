import ArgumentParser
import Foundation
import Retrieval

/// `rlhf rag search`: the top k chunks of an index for a question (BM25).
struct RAGSearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search", abstract: "Print the top k chunks of a knowledge index for a question (BM25).")

    @OptionGroup var knowledgeOptions: KnowledgeOptions

    @Option(name: .long, help: "Chunks to return.")
    var topK: Int = 3

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @Argument(help: "The question (any text; FTS5 syntax in it is treated as plain words).")
    var question: String

    func validate() throws {
        guard topK >= 1 else { throw ValidationError("--top-k must be at least 1") }
    }

    func run() throws {
        let index = try KnowledgeIndex(contentsOf: KnowledgeIndex.indexURL(knowledgeOptions.knowledge), titleWeight: knowledgeOptions.titleWeight)
        let chunks = try index.search(question, topK: topK)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            print(String(decoding: try encoder.encode(chunks), as: UTF8.self))
            return
        }
        if chunks.isEmpty { print("no chunk matches") }
        for (rank, chunk) in chunks.enumerated() {
            print("[\(rank + 1)] \(chunk.reference)  score \(String(format: "%.3f", chunk.score))  \(chunk.title)")
            print("    " + chunk.text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " "))
        }
    }
}
