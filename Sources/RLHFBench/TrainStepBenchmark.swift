// `rlhf-bench train-step`: forward + loss + backward + clipping + AdamW on a random-token batch, timed
// after warm-up; the peer is benchmarks/torch_train_step.py (same config, same figures).

import ArgumentParser
import Foundation
import Llama
import Tensors
import Training

// MARK: - train-step

/// Times full training steps of a randomly initialised Llama and prints tokens/s, achieved GFLOP/s and
/// peak memory.
///
/// FLOP accounting (PaLM, Chowdhery et al. 2022, appendix B; llm.c): per token, `6·N + 12·L·H·D·T`, where
/// N counts the weights that go through a matmul (q/k/v/o, gate/up/down of every layer and the
/// `[V, C]` output matrix; the embedding lookup and the norms are not matmuls) and `12·L·H·D·T` is the
/// attention scores and weighted sum, forward (2·2·H·D·T) and backward (twice that), counted over the
/// full T×T square, causal mask or not. Elementwise work (norms, RoPE, softmax, AdamW) is not counted.
struct TrainStepBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-step",
        abstract: "Time forward + backward + AdamW steps of a random Llama (after warm-up).")

    @Option(help: "hidden_size (C).") var hidden: Int = 256
    @Option(help: "intermediate_size (F).") var intermediate: Int = 688
    @Option(help: "num_hidden_layers (L).") var layers: Int = 4
    @Option(help: "num_attention_heads (H).") var heads: Int = 8
    @Option(name: .customLong("kv-heads"), help: "num_key_value_heads (G).") var kvHeads: Int = 8
    @Option(help: "vocab_size (V).") var vocab: Int = 2048
    @Option(help: "Sequences per batch (B).") var batch: Int = 8
    @Option(help: "Tokens per sequence (T).") var seq: Int = 256
    @Option(help: "Compute threads (BLAS.setThreads: our workers, each sgemm block single-threaded OpenBLAS).") var threads: Int = 2
    @Option(help: "Untimed warm-up steps.") var warmup: Int = 3
    @Option(help: "Timed steps.") var steps: Int = 10
    @Option(help: "Seed of the weights and tokens.") var seed: UInt64 = 0
    @Flag(help: "Tie lm_head to the embedding (tie_word_embeddings).") var tied = false
    @Flag(help: "Print one JSON object instead of text.") var json = false

    struct Report: Codable {
        var implementation = "rlhf (Swift, OpenBLAS)"
        var config: [String: Int]
        var threads: Int
        var openblasCore: String
        var warmup: Int
        var steps: Int
        var tokensPerStep: Int
        var matmulParams: Int
        var flopsPerStep: Double
        var stepSecondsMedian: Double
        var stepSecondsMin: Double
        var stepSecondsTotal: Double
        var tokensPerSecond: Double
        var gflopsPerSecond: Double
        var forwardSecondsMedian: Double
        var backwardSecondsMedian: Double
        var optimizerSecondsMedian: Double
        var peakRSSMiB: Double
        var finalLoss: Float
    }

    func validate() throws {
        for (name, v) in [("hidden", hidden), ("intermediate", intermediate), ("layers", layers), ("heads", heads),
                          ("kv-heads", kvHeads), ("vocab", vocab), ("batch", batch), ("seq", seq), ("threads", threads),
                          ("steps", steps)] where v < 1 {
            throw ValidationError("--\(name) must be >= 1, got \(v)")
        }
        if warmup < 0 { throw ValidationError("--warmup must be >= 0, got \(warmup)") }
    }

    func run() throws {
        BLAS.setThreads(threads)
        let config = LlamaConfig(vocabSize: vocab, hiddenSize: hidden, intermediateSize: intermediate, numHiddenLayers: layers,
                                 numAttentionHeads: heads, numKeyValueHeads: kvHeads, maxPositionEmbeddings: max(2048, seq),
                                 tieWordEmbeddings: tied)
        let model: LlamaModel
        do { model = try LlamaModel(config: config, seed: seed) } catch { throw ValidationError("\(error)") }
        let optimizer = AdamW(parameters: model.parameters, hyperparameters: .init(lr: 1e-4, weightDecay: 0.1))
        var rng = Xoshiro256(seed: seed &+ 1)
        let tokens = (0..<(batch * seq)).map { _ in Int32(rng.next() % UInt64(vocab)) }
        let input = LlamaInput(tokens: tokens, batch: batch, seqLen: seq)

        var fwd: [Double] = [], bwd: [Double] = [], opt: [Double] = [], total: [Double] = []
        var loss: Float = 0
        var mainCPU = 0.0
        for i in 0..<(warmup + steps) {
            if i == warmup { RegionProfile.reset(); mainCPU = RegionProfile.threadCPUSeconds() }
            let t0 = monotonicSeconds()
            model.zeroGradients()
            loss = model.loss(input: input, labels: tokens)
            let t1 = monotonicSeconds()
            model.backwardLoss()
            let t2 = monotonicSeconds()
            clipGradientNorm(model.parameters, maxNorm: 1)
            optimizer.step()
            let t3 = monotonicSeconds()
            if i >= warmup {
                fwd.append(t1 - t0); bwd.append(t2 - t1); opt.append(t3 - t2); total.append(t3 - t0)
            }
        }

        if RegionProfile.enabled {
            // Idle-machine estimate from thread CPU clocks: the caller's CPU outside regions + per region
            // the slowest worker.
            let p = RegionProfile.snapshot()
            let main = RegionProfile.threadCPUSeconds() - mainCPU
            let serial = main - p.caller
            print(String(format: "  profile per step: %.0f regions; serial %.1f ms, regions critical path %.1f ms (work %.1f ms) -> idle estimate %.1f ms",
                         Double(p.regions) / Double(steps), serial / Double(steps) * 1e3, p.critical / Double(steps) * 1e3,
                         p.work / Double(steps) * 1e3, (serial + p.critical) / Double(steps) * 1e3))
        }
        let c = hidden, f = intermediate, d = hidden / heads
        let perLayer = c * heads * d + 2 * c * kvHeads * d + heads * d * c + 3 * c * f
        let matmulParams = layers * perLayer + vocab * c
        let tokensPerStep = batch * seq
        let flops = (6 * Double(matmulParams) + 12 * Double(layers * heads * d * seq)) * Double(tokensPerStep)
        let sum = total.reduce(0, +)
        let report = Report(
            config: ["hidden_size": hidden, "intermediate_size": intermediate, "num_hidden_layers": layers,
                     "num_attention_heads": heads, "num_key_value_heads": kvHeads, "vocab_size": vocab,
                     "batch": batch, "seq": seq, "tie_word_embeddings": tied ? 1 : 0],
            threads: threads, openblasCore: BLAS.coreName, warmup: warmup, steps: steps, tokensPerStep: tokensPerStep,
            matmulParams: matmulParams, flopsPerStep: flops,
            stepSecondsMedian: median(total), stepSecondsMin: total.min() ?? 0, stepSecondsTotal: sum,
            tokensPerSecond: Double(tokensPerStep * steps) / sum, gflopsPerSecond: flops * Double(steps) / sum / 1e9,
            forwardSecondsMedian: median(fwd), backwardSecondsMedian: median(bwd), optimizerSecondsMedian: median(opt),
            peakRSSMiB: peakRSSMiB(), finalLoss: loss)
        if json {
            try printJSON(report)
        } else {
            print("rlhf train-step: C \(hidden) F \(intermediate) L \(layers) H \(heads) G \(kvHeads) V \(vocab), B \(batch) x T \(seq), \(threads) thread(s), OpenBLAS core \(report.openblasCore)")
            print("  matmul params \(matmulParams), \(String(format: "%.2f", flops / 1e9)) GFLOP/step (6·N·tokens + 12·L·H·D·T·tokens)")
            print(String(format: "  %d timed steps after %d warm-up: median %.1f ms (min %.1f): forward+loss %.1f, backward %.1f, clip+AdamW %.1f ms",
                         steps, warmup, report.stepSecondsMedian * 1e3, report.stepSecondsMin * 1e3,
                         report.forwardSecondsMedian * 1e3, report.backwardSecondsMedian * 1e3, report.optimizerSecondsMedian * 1e3))
            print(String(format: "  tokens/s %.0f   GFLOP/s %.1f   peak RSS %.0f MiB   loss %.4f",
                         report.tokensPerSecond, report.gflopsPerSecond, report.peakRSSMiB, loss))
        }
    }
}
