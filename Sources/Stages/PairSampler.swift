import Foundation
import Llama
import Logging
import Preferences
import Tokenization

// MARK: - Two completions per prompt

/// Sampling settings of `sample-pairs` / `rlhf sample` (Hugging Face `GenerationConfig` meanings).
public struct PairSamplingOptions: Sendable, Equatable {
    /// New tokens per completion at most (tokens).
    public var maxNewTokens: Int
    /// Softmax temperature (> 0: both completions are sampled).
    public var temperature: Float
    /// Nucleus mass in (0, 1].
    public var topP: Float
    /// Seed of completion A; completion B uses `seed ^ PairSamplingOptions.secondSeedMask`.
    public var seed: UInt64
    /// Prompts generated together in one batched forward.
    public var batchSize: Int

    /// XORed into `seed` for the second completion (any non-zero constant gives an independent stream).
    public static let secondSeedMask: UInt64 = 0x5DEE_CE66_D1CE_B00C

    public init(maxNewTokens: Int = 64, temperature: Float = 1, topP: Float = 1, seed: UInt64 = 0, batchSize: Int = 8) {
        self.maxNewTokens = maxNewTokens
        self.temperature = temperature
        self.topP = topP
        self.seed = seed
        self.batchSize = batchSize
    }

    /// The generation parameters recorded with completion `sample` (0: A, 1: B) of a pair: `max_new_tokens`,
    /// `temperature`, `top_p`, `seed` (the run's seed, `options.seed`), `sample`, `batch_size`.
    public func generationParams(sample: Int) -> [String: Double] {
        ["max_new_tokens": Double(maxNewTokens), "temperature": Double(temperature), "top_p": Double(topP),
         "seed": Double(seed), "sample": Double(sample), "batch_size": Double(batchSize)]
    }
}

/// What `PairSampler.sample` produced: pairs to queue and how many were dropped as identical.
public struct SampledPairs: Sendable {
    /// Prompt and its two completions (texts differ).
    public var pairs: [(prompt: String, a: GeneratedResponse, b: GeneratedResponse)]
    /// Prompts whose two completions had the same text (not queued: nothing to compare).
    public var identicalSkipped: Int
}

/// Samples two completions per prompt from a model directory (batched KV-cache generation) for human comparison.
public enum PairSampler {
    /// Loads a model directory: tokenizer, weights, and the PEFT adapter in `adapter/` when present.
    /// - Throws: `LlamaError`/`TokenizerError` from the loaders when a file is missing or invalid.
    public static func load(modelDirectory url: URL) throws -> (LlamaModel, BPETokenizer) {
        let tokenizer = try BPETokenizer(directory: url)
        let model = try LlamaModel.load(directory: url)
        let adapter = url.appendingPathComponent(LlamaModel.adapterSubdirectory).appendingPathComponent("adapter_config.json")
        if FileManager.default.fileExists(atPath: adapter.path) { try model.loadLoRA(modelDirectory: url) }
        return (model, tokenizer)
    }

    /// Samples completions A (seed `options.seed`) and B (seed `options.seed ^ secondSeedMask`) for every prompt.
    ///
    /// Prompts are encoded with the tokenizer's post-processor (BOS) and, when longer than
    /// `max_position_embeddings - maxNewTokens`, keep their last tokens (left truncation, as TRL does).
    /// Completions are decoded without special tokens and stop at EOS.
    /// - Parameters:
    ///   - model, tokenizer: the model (see `load`).
    ///   - modelDigest: recorded with each completion (the model artifact's SHA-256).
    ///   - prompts: prompt texts (non-empty).
    ///   - progress: called after each batch with (prompts done, total).
    ///   - shouldCancel: polled between batches; true throws `CancellationError`.
    /// - Returns: the pairs with different texts and the count of identical ones.
    /// - Throws: `LlamaError.invalidInput` (e.g. `maxNewTokens` not below the context length, bad sampling
    ///   settings), `CancellationError`.
    public static func sample(model: LlamaModel, tokenizer: BPETokenizer, modelDigest: String, prompts: [String],
                              options: PairSamplingOptions, logger: Logger,
                              progress: (Int, Int) -> Void = { _, _ in },
                              shouldCancel: () -> Bool = { false }) throws -> SampledPairs {
        let cfg = model.config
        let budget = cfg.maxPositionEmbeddings - options.maxNewTokens
        guard budget >= 1 else {
            throw LlamaError.invalidInput("max_new_tokens \(options.maxNewTokens) leaves no room for a prompt in max_position_embeddings \(cfg.maxPositionEmbeddings)")
        }
        let eos = tokenizer.eosTokenId ?? cfg.eosTokenId.map(Int32.init)
        let pad = tokenizer.padTokenId ?? cfg.padTokenId.map(Int32.init)
        let seedB = options.seed ^ PairSamplingOptions.secondSeedMask
        var out = SampledPairs(pairs: [], identicalSkipped: 0)
        var truncated = 0
        let batch = max(1, options.batchSize)
        for start in stride(from: 0, to: prompts.count, by: batch) {
            if shouldCancel() { throw CancellationError() }
            let texts = Array(prompts[start..<min(start + batch, prompts.count)])
            let ids: [[Int32]] = texts.map { text in
                var t = tokenizer.encodeWithPostProcessor(text)
                if t.isEmpty, let bos = tokenizer.bosTokenId ?? eos { t = [bos] }
                if t.count > budget { truncated += 1; t = Array(t.suffix(budget)) }
                return t
            }
            // Each batch gets its own seeds so that prompt k's samples do not repeat prompt k+batch's stream.
            let offset = UInt64(start / batch) &* 0x9E37_79B9_7F4A_7C15
            func run(_ seed: UInt64) throws -> GenerationResult {
                try generate(model: model, prompts: ids, config: GenerationConfig(
                    maxNewTokens: options.maxNewTokens, temperature: options.temperature, topK: 0, topP: options.topP,
                    seed: seed &+ offset, eosTokenId: eos, padTokenId: pad))
            }
            let a = try run(options.seed), b = try run(seedB)
            for (i, prompt) in texts.enumerated() {
                let ta = tokenizer.decode(a.tokens[i], skipSpecial: true), tb = tokenizer.decode(b.tokens[i], skipSpecial: true)
                if ta == tb { out.identicalSkipped += 1; continue }
                out.pairs.append((prompt,
                                  GeneratedResponse(text: ta, modelDigest: modelDigest, generationParams: options.generationParams(sample: 0)),
                                  GeneratedResponse(text: tb, modelDigest: modelDigest, generationParams: options.generationParams(sample: 1))))
            }
            progress(start + texts.count, prompts.count)
        }
        if truncated > 0 {
            logger.warning("prompts truncated to their last tokens", metadata: ["count": "\(truncated)", "max_prompt_tokens": "\(budget)"])
        }
        return out
    }

    /// Reads prompts from a file: JSON lines (a string, or an object with `prompt`, else `text`/`question`)
    /// when the name ends in `.jsonl`, otherwise one prompt per non-empty line.
    /// - Throws: `PreferenceError.invalidArgument` naming file:line for a malformed JSON line or an unreadable file.
    public static func readPrompts(file: URL) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: file.path) else {
            throw PreferenceError.invalidArgument("\(file.path): cannot read the prompts file")
        }
        let text = String(decoding: data, as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard file.pathExtension == "jsonl" else {
            return lines.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        var prompts: [String] = []
        for (n, line) in lines.enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8), options: [.fragmentsAllowed])
            if let s = obj as? String {
                prompts.append(s)
            } else if let d = obj as? [String: Any], let s = (d["prompt"] ?? d["text"] ?? d["question"]) as? String {
                prompts.append(s)
            } else {
                throw PreferenceError.invalidArgument("\(file.path):\(n + 1): expected a JSON string or an object with a \"prompt\" string")
            }
        }
        return prompts
    }
}
