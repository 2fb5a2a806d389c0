// `rlhf-bench train-lora` and `rlhf-bench logits`: the two pieces of rlhf that scripts/verify_export.py
// needs besides the `rlhf` CLI: a LoRA adapter trained by rlhf itself (saved in PEFT's layout), and the
// next-token logits of rlhf's own Swift forward pass, to compare with transformers and llama.cpp.
// Not benchmarks: verification helpers kept next to them so that the user-facing `rlhf` stays small.

import ArgumentParser
import Foundation
import Llama
import Tensors
import Tokenization
import Training

// MARK: - train-lora

/// Trains a LoRA adapter on a model for a few steps of causal-LM loss on random windows of a text file and
/// writes a copy of the model directory with the adapter in `OUT/adapter/` (PEFT layout, via `saveLoRA`).
struct TrainLoRACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-lora",
        abstract: "Train a LoRA adapter for a few steps on a text file; write MODEL's files plus adapter/ to --out.")

    @Option(help: ArgumentHelp("Base model directory (config.json, model.safetensors, tokenizer.json).", valueName: "DIR"))
    var model: String
    @Option(help: ArgumentHelp("UTF-8 training text.", valueName: "FILE")) var text: String
    @Option(help: ArgumentHelp("Output directory (must not exist).", valueName: "DIR")) var out: String
    @Option(help: "Optimizer steps.") var steps: Int = 60
    @Option(help: "Windows per step.") var batchSize: Int = 8
    @Option(help: "Tokens per window.") var seqLen: Int = 64
    @Option(help: "AdamW learning rate.") var learningRate: Float = 3e-3
    @Option(help: "LoRA rank (r).") var r: Int = 8
    @Option(help: "LoRA alpha (lora_alpha).") var loraAlpha: Float = 16
    @Option(help: "Comma-separated target modules.") var targetModules: String = LoRAConfig.knownModules.joined(separator: ",")
    @Option(help: "Seed of A's initialisation and of the windows.") var seed: UInt64 = 7
    @Option(help: "OpenBLAS threads.") var threads: Int = 2

    func validate() throws {
        for (name, v) in [("steps", steps), ("batch-size", batchSize), ("seq-len", seqLen), ("r", r), ("threads", threads)] where v < 1 {
            throw ValidationError("--\(name) must be >= 1, got \(v)")
        }
    }

    func run() throws {
        BLAS.setThreads(threads)
        let fm = FileManager.default
        let src = URL(fileURLWithPath: model), dst = URL(fileURLWithPath: out)
        guard !fm.fileExists(atPath: dst.path) else { throw ValidationError("--out \(out) already exists; pick a new path") }
        let tokenizer = try BPETokenizer(directory: src)
        let llama = try LlamaModel.load(directory: src)
        let raw = try String(contentsOfFile: text, encoding: .utf8)
        let ids = tokenizer.encode(raw)
        guard ids.count > seqLen + 1 else {
            throw ValidationError("--text \(text): \(ids.count) tokens, fewer than --seq-len + 2 (\(seqLen + 2))")
        }
        let targets = targetModules.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        try llama.applyLoRA(LoRAConfig(r: r, loraAlpha: loraAlpha, loraDropout: 0, targetModules: targets), seed: seed)
        let optimizer = AdamW(parameters: llama.loraParameters, hyperparameters: .init(lr: learningRate, weightDecay: 0))
        var rng = Xoshiro256(seed: seed &+ 1)
        for step in 0..<steps {
            var tokens: [Int32] = []
            tokens.reserveCapacity(batchSize * seqLen)
            for _ in 0..<batchSize {
                let start = Int(rng.next() % UInt64(ids.count - seqLen))
                tokens.append(contentsOf: ids[start..<(start + seqLen)])
            }
            llama.zeroGradients()
            let loss = llama.loss(input: LlamaInput(tokens: tokens, batch: batchSize, seqLen: seqLen), labels: tokens)
            llama.backwardLoss()
            optimizer.step()
            if step % 10 == 0 || step == steps - 1 { print("step \(step) loss \(String(format: "%.4f", loss))") }
        }
        try fm.createDirectory(at: dst, withIntermediateDirectories: true)
        for name in try fm.contentsOfDirectory(atPath: src.path) where name.hasSuffix(".json") || name.hasSuffix(".safetensors") {
            try fm.copyItem(at: src.appendingPathComponent(name), to: dst.appendingPathComponent(name))
        }
        try llama.saveLoRA(modelDirectory: dst, baseModelNameOrPath: src.path)
        print("wrote \(dst.path)/\(LlamaModel.adapterSubdirectory)")
    }
}

// MARK: - logits

/// Prints rlhf's next-token logits `[T, V]` for one token sequence as JSON `{"logits": [[...]]}` (float32
/// values printed as shortest round-trip decimals), through the same full forward pass training uses. A PEFT
/// adapter in `MODEL/adapter/` is applied.
struct LogitsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logits",
        abstract: "Print rlhf's logits [T, V] for comma-separated token ids as JSON (verification of exports).")

    @Option(help: ArgumentHelp("Model directory (an adapter/ subdirectory is applied).", valueName: "DIR")) var model: String
    @Option(help: ArgumentHelp("Comma-separated token ids.", valueName: "IDS")) var ids: String
    @Option(help: "OpenBLAS threads.") var threads: Int = 1

    func run() throws {
        BLAS.setThreads(threads)
        let url = URL(fileURLWithPath: model)
        var tokens: [Int32] = []
        for part in ids.split(separator: ",") {
            guard let v = Int32(part.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("--ids: '\(part)' is not a token id") }
            tokens.append(v)
        }
        let llama = try LlamaModel.load(directory: url)
        guard !tokens.isEmpty, tokens.allSatisfy({ $0 >= 0 && Int($0) < llama.config.vocabSize }) else {
            throw ValidationError("--ids: give at least one id, each in 0..<\(llama.config.vocabSize)")
        }
        let adapter = url.appendingPathComponent(LlamaModel.adapterSubdirectory).appendingPathComponent("adapter_config.json")
        if FileManager.default.fileExists(atPath: adapter.path) { try llama.loadLoRA(modelDirectory: url) }
        let out = llama.forward(LlamaInput(tokens: tokens, batch: 1, seqLen: tokens.count))
        guard let logits = out.logits else { throw ValidationError("the forward pass returned no logits") }
        let v = llama.config.vocabSize
        var rows: [String] = []
        for t in 0..<tokens.count {
            rows.append("[" + (0..<v).map { "\(logits.data[t * v + $0])" }.joined(separator: ",") + "]")
        }
        print("{\"logits\":[" + rows.joined(separator: ",") + "]}")
    }
}
