import Foundation
import Llama
import Logging
import Pipeline
import Stages
import Tokenization
import XCTest

// MARK: - A tiny random model with its own tokenizer

enum TinyModel {
    /// A small English text the test tokenizer is trained on.
    static let corpus = """
        The quick brown fox jumps over the lazy dog. A model learns to answer questions about the weather,
        the capital of France, and how to bake bread. Please be kind and helpful. What is the answer?
        The answer is forty two. Thank you for asking; the dog and the fox are friends now.
        """

    /// Writes a random Llama (2 layers, hidden 32, GQA 4/2 heads) and a BPE tokenizer (300 tokens)
    /// trained on `corpus` into `directory` (Hugging Face layout).
    static func write(to directory: URL, seed: UInt64 = 1) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let tokenizer = try BPETokenizer.train(texts: [corpus, corpus.uppercased()], vocabSize: 300, logger: nil)
        let config = LlamaConfig(vocabSize: tokenizer.vocabSize, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2,
                                 numAttentionHeads: 4, numKeyValueHeads: 2, maxPositionEmbeddings: 128,
                                 bosTokenId: tokenizer.bosTokenId.map(Int.init), eosTokenId: tokenizer.eosTokenId.map(Int.init))
        // A larger init than 0.02 so that sampled completions differ between seeds.
        var c = config
        c.initializerRange = 0.5
        let model = try LlamaModel(config: c, seed: seed)
        try model.save(directory: directory)
        try tokenizer.save(directory: directory)
    }
}

// MARK: - Pipelines in a sandbox

/// A temporary directory holding pipeline files and a work directory; removed at deinit.
final class StageSandbox {
    let root: URL
    var workdir: URL { root.appendingPathComponent("work") }

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("rlhf-stages-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    /// Writes `text` to `name` under the sandbox.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> URL {
        let url = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// Validates `yaml` (written as `name`) against the product's registry and runs it.
    func run(_ yaml: String, name: String = "pipeline.yaml", _ options: RunOptions = RunOptions()) async throws -> RunSummary {
        let file = try write(name, yaml)
        let validated = try PipelineValidator.validate(try PipelineSpec.load(file), registry: StageCatalog.registry())
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return try await PipelineRunner(pipeline: validated, store: try PipelineStore(workdir: workdir), logger: logger).run(options)
    }
}

extension RunSummary {
    subscript(_ stage: String) -> StageResult? { stages.first { $0.name == stage } }
}
