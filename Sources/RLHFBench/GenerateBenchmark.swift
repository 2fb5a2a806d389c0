// `rlhf-bench generate`: KV-cache generation throughput (new tokens/s) of a random tiny Llama, to compare
// with benchmarks/torch_generate.py (Hugging Face `generate`) on the same weights.

import ArgumentParser
import Foundation
import Llama
import Tensors

struct GenerateBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generation tokens/s at several batch sizes (greedy, no EOS: every row makes --new-tokens).")

    @Option(name: .long, help: "Comma-separated batch sizes.")
    var batches: String = "1,16"

    @Option(name: .long, help: "New tokens per row.")
    var newTokens: Int = 128

    @Option(name: .long, help: "Prompt tokens per row.")
    var promptLength: Int = 16

    @Option(name: .long, help: "OpenBLAS threads.")
    var threads: Int = 2

    @Option(name: .long, help: "Timed repetitions (the best is reported, after one warm-up).")
    var repeats: Int = 3

    @Option(name: .long, help: "hidden_size / num_hidden_layers / num_attention_heads / vocab_size / intermediate_size.")
    var hidden = 256
    @Option(name: .long) var layers = 4
    @Option(name: .long) var heads = 8
    @Option(name: .long) var vocab = 4096
    @Option(name: .long) var intermediate = 688

    @Option(name: .long, help: "Also save the random model here (HF layout) for benchmarks/torch_generate.py.")
    var saveModel: String?

    func run() throws {
        BLAS.setThreads(threads)
        let cfg = LlamaConfig(vocabSize: vocab, hiddenSize: hidden, intermediateSize: intermediate, numHiddenLayers: layers,
                              numAttentionHeads: heads, maxPositionEmbeddings: 2048, bosTokenId: 1, eosTokenId: 2, padTokenId: 0)
        let model = try LlamaModel(config: cfg, seed: 1234)
        if let saveModel { try model.save(directory: URL(fileURLWithPath: saveModel)) }
        var rng = Xoshiro256(seed: 99)
        for b in batches.split(separator: ",").compactMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) {
            let prompts = (0..<b).map { _ in (0..<promptLength).map { _ in Int32(3 + Int(rng.next() % UInt64(vocab - 3))) } }
            let config = GenerationConfig(maxNewTokens: newTokens, temperature: 0)
            _ = try generate(model: model, prompts: prompts, config: config)
            var best = Double.infinity
            for _ in 0..<repeats {
                let t0 = DispatchTime.now().uptimeNanoseconds
                let out = try generate(model: model, prompts: prompts, config: config)
                let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                precondition(out.tokens.allSatisfy { $0.count == newTokens })
                best = min(best, dt)
            }
            let tokens = Double(b * newTokens)
            print(String(format: "swift generate  batch %3d  prompt %d  new %d  threads %d  %.3f s  %8.1f tokens/s",
                         b, promptLength, newTokens, threads, best, tokens / best))
        }
    }
}
