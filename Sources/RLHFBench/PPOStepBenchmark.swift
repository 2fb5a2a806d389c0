// `rlhf-bench ppo-step`: wall time of one PPO iteration (TRL PPOv2 semantics) by phase, on random tiny
// models, to compare with benchmarks/torch_ppo_step.py (the same steps in PyTorch) on the same weights.

import Alignment
import ArgumentParser
import Foundation
import Llama
import Logging
import Tensors

struct PPOStepBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ppo-step",
        abstract: "One PPO iteration by phase: generate, rescore (policy + reference), score, advantages, update.",
        discussion: """
            Policy, reference (a copy, or the policy with LoRA adapters disabled with --lora) and reward model are
            random tiny Llamas. The rollout samples --response-length tokens for --batch prompts of --prompt-length
            tokens at --temperature; then num_ppo_epochs x num_mini_batches clipped-PPO updates (AdamW, grad clip 1).
            Prints one line per timed iteration and the median per phase, plus a JSON line with --json.
              swift run -c release rlhf-bench ppo-step --save-model /tmp/ppo-bench
              python3 benchmarks/torch_ppo_step.py --model /tmp/ppo-bench
            """)

    @Option(name: .long, help: "Rollout prompts (TRL batch_size).") var batch = 16
    @Option(name: .long, help: "New tokens per response (TRL response_length).") var responseLength = 64
    @Option(name: .long, help: "Prompt tokens per row.") var promptLength = 32
    @Option(name: .long, help: "TRL num_ppo_epochs.") var numPpoEpochs = 4
    @Option(name: .long, help: "TRL num_mini_batches.") var numMiniBatches = 1
    @Option(name: .long, help: "Sampling temperature.") var temperature: Float = 0.7
    @Option(name: .long, help: "OpenBLAS threads.") var threads = 2
    @Option(name: .long, help: "Timed iterations (after one warm-up).") var repeats = 3
    @Flag(name: .long, help: "Train LoRA adapters (r 16, alpha 32, q_proj/v_proj) instead of all weights.") var lora = false

    @Option(name: .long, help: "hidden_size / num_hidden_layers / num_attention_heads / vocab_size / intermediate_size.")
    var hidden = 256
    @Option(name: .long) var layers = 4
    @Option(name: .long) var heads = 8
    @Option(name: .long) var vocab = 4096
    @Option(name: .long) var intermediate = 704

    @Option(name: .long, help: "Save policy (policy/) and reward backbone + head (reward/) here for the PyTorch peer.")
    var saveModel: String?
    @Flag(name: .long, help: "Also print the medians as one JSON line.") var json = false

    func run() throws {
        BLAS.setThreads(threads)
        let cfg = LlamaConfig(vocabSize: vocab, hiddenSize: hidden, intermediateSize: intermediate, numHiddenLayers: layers,
                              numAttentionHeads: heads, maxPositionEmbeddings: 1024, bosTokenId: 1, eosTokenId: 2, padTokenId: 0)
        let policy = try LlamaModel(config: cfg, seed: 1234)
        let rm = RewardModel(backbone: try LlamaModel(config: cfg, seed: 4321), seed: 7)
        if let saveModel {
            let dir = URL(fileURLWithPath: saveModel)
            try policy.save(directory: dir.appendingPathComponent("policy"))
            try rm.save(directory: dir.appendingPathComponent("reward"), tokenizerDirectory: nil)
        }
        let reference: LlamaModel
        if lora {
            try policy.applyLoRA(LoRAConfig(), seed: 5)
            reference = policy
        } else {
            reference = try LlamaModel(config: cfg, seed: 1234)
        }
        var config = PPOConfig()
        config.responseLength = responseLength
        config.numMiniBatches = numMiniBatches
        config.perDeviceTrainBatchSize = batch / numMiniBatches
        config.numPpoEpochs = numPpoEpochs
        config.temperature = temperature
        config.learningRate = 1e-5
        config.seed = 3
        var rng = Xoshiro256(seed: 99)
        let prompts = (0..<batch).map { _ in [Int32(1)] + (1..<promptLength).map { _ in Int32(3 + Int(rng.next() % UInt64(vocab - 3))) } }
        var logger = Logger(label: "rlhf-bench")
        logger.logLevel = .warning
        let trainer = try PPOTrainer(policy: policy, reference: reference, scorer: rewardModelScorer(rm, batchSize: batch), prompts: prompts,
                                     config: config, totalIterations: repeats + 10, eosTokenId: 2, padTokenId: 0, logger: logger)
        let phases = ["generate", "rescore", "score", "advantages", "update"]
        var samples: [String: [Double]] = [:]
        for i in 0...repeats {
            let t0 = monotonicSeconds()
            try trainer.step()
            let total = monotonicSeconds() - t0
            guard i > 0 else { continue }   // warm-up
            var line = "swift ppo-step  iter \(i)"
            for p in phases {
                let s = trainer.phaseSeconds[p] ?? 0
                samples[p, default: []].append(s)
                line += String(format: "  %@ %.3f s", p, s)
            }
            samples["total", default: []].append(total)
            print(line + String(format: "  total %.3f s", total))
        }
        var summary = String(format: "swift ppo-step  median  batch %d  prompt %d  response %d  epochs %d  minibatches %d  threads %d%@",
                             batch, promptLength, responseLength, numPpoEpochs, numMiniBatches, threads, lora ? "  lora" : "")
        for p in phases + ["total"] { summary += String(format: "  %@ %.3f s", p, median(samples[p] ?? [0])) }
        print(summary + String(format: "  peak_rss %.0f MiB", peakRSSMiB()))
        if json { try printJSON(samples.mapValues(median)) }
    }
}
