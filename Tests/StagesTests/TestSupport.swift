import Foundation
import Llama
import Logging
import Pipeline
import PipelineTestSupport
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

/// The stage tests' sandbox: the shared `PipelineSandbox` with the product's registry.
typealias StageSandbox = PipelineSandbox

extension PipelineSandbox {
    /// A sandbox whose pipelines use the product's stage kinds (`$TMPDIR/rlhf-stages-tests-UUID`).
    convenience init() throws { try self.init(registry: StageCatalog.registry(), prefix: "rlhf-stages-tests") }
}
