import ArgumentParser
import Foundation
import Logging
import Retrieval
import Tokenization

/// `rlhf rag index`: chunk a JSONL knowledge base and write its FTS5 index.
struct RAGIndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Chunk a JSONL knowledge base (id, title, text) and write an FTS5 index into a directory.")

    @Option(name: .long, help: "JSONL knowledge base: one {\"id\", \"title\", \"text\"} object per line.")
    var knowledge: String

    @Option(name: .long, help: "Output directory; the index is written to DIR/index.sqlite (atomically).")
    var out: String

    @Option(name: .long, help: "Chunk size in tokens.")
    var chunkSize: Int = 128

    @Option(name: .long, help: "Tokens shared by neighbouring chunks.")
    var overlap: Int = 32

    @Option(name: .long, help: "Count tokens with this tokenizer (a directory with tokenizer.json, e.g. the model's); default: whitespace words.")
    var tokenizer: String?

    @Flag(name: .long, help: "Print the manifest as JSON.")
    var json = false

    func validate() throws {
        guard chunkSize >= 1 else { throw ValidationError("--chunk-size must be at least 1 token") }
        guard overlap >= 0, overlap < chunkSize else {
            throw ValidationError("--overlap must be in 0..<chunk-size (\(chunkSize))")
        }
    }

    /// The model's BPE tokenizer when `--tokenizer` is given, otherwise whitespace words.
    private func chunkTokenizer() throws -> any ChunkTokenizer {
        guard let tokenizer else { return WhitespaceTokenizer() }
        return RAGModel.chunkTokenizer(try BPETokenizer(directory: URL(fileURLWithPath: tokenizer)))
    }

    func run() throws {
        let logger = Logger(label: "rlhf.rag")
        let directory = URL(fileURLWithPath: out, isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let started = Date()
        let chunker = try Chunker(options: ChunkingOptions(chunkSize: chunkSize, overlap: overlap), tokenizer: try chunkTokenizer())
        let index = try KnowledgeIndex.build(
            knowledgeBase: URL(fileURLWithPath: knowledge), chunker: chunker,
            at: directory.appendingPathComponent(KnowledgeIndex.fileName), logger: logger)
        let seconds = Date().timeIntervalSince(started)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            print(String(decoding: try encoder.encode(index.manifest), as: UTF8.self))
        } else {
            let m = index.manifest
            print("\(index.url.path): \(m.documentCount) documents, \(m.chunkCount) chunks "
                + "(chunk_size \(m.chunking.chunkSize), overlap \(m.chunking.overlap), tokenizer \(m.tokenizerFingerprint)) "
                + "in \(String(format: "%.2f", seconds)) s")
        }
    }
}
