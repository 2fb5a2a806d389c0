// Batched autoregressive generation with a KV cache: prefill the left-padded prompts in one forward,
// then one token per row per step.
//
// Legend: B prompts, Tp longest prompt, V vocab_size.

import Foundation
import Tensors

// MARK: - Configuration

/// What to generate and how to choose tokens (Hugging Face `GenerationConfig` field meanings).
public struct GenerationConfig: Sendable, Equatable, Codable {
    /// Token budget per row (`max_new_tokens`), >= 1.
    public var maxNewTokens: Int
    /// Softmax temperature; 0 means greedy (argmax).
    public var temperature: Float
    /// Top-k filtering (0 disables).
    public var topK: Int
    /// Top-p (nucleus) mass in (0, 1] (1 disables).
    public var topP: Float
    /// Seed of the sampling generator; row i draws from `Xoshiro256(seed: seed ^ mix(i))`, so a row's
    /// sample depends on its prompt, its index and the seed, not on the other prompts.
    public var seed: UInt64
    /// End-of-sequence token: a row stops after producing it (nil: only the budget stops).
    public var eosTokenId: Int32?
    /// Token used for left padding and after a row finished (nil: `eosTokenId`, else 0). Never attended to.
    public var padTokenId: Int32?

    /// - Parameters: see the properties (defaults: 128 tokens, greedy, no top-k/top-p, seed 0).
    public init(maxNewTokens: Int = 128, temperature: Float = 0, topK: Int = 0, topP: Float = 1, seed: UInt64 = 0,
                eosTokenId: Int32? = nil, padTokenId: Int32? = nil) {
        self.maxNewTokens = maxNewTokens
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
        self.eosTokenId = eosTokenId
        self.padTokenId = padTokenId
    }

    /// The sampling rules of this config.
    public var sampling: SamplingParameters { SamplingParameters(temperature: temperature, topK: topK, topP: topP) }
}

// MARK: - Result

/// The new tokens of each row.
public struct GenerationResult: Sendable, Equatable {
    /// Per row, the new token ids, truncated after the first EOS (the EOS included); at most
    /// `maxNewTokens` each.
    public var tokens: [[Int32]]
    /// Per row, aligned with `tokens`: log-probability (nats) of each chosen token under
    /// `softmax(logits / temperature)` over the whole vocabulary (temperature 1 when greedy).
    public var logProbs: [[Float]]
    /// Per row, whether it ended with EOS (false: stopped by the budget).
    public var finishedWithEOS: [Bool]
}

// MARK: - Generate

/// Generates up to `config.maxNewTokens` tokens for each prompt with a KV cache (pure with respect to
/// the weights; uses the model's adapters when enabled, in inference mode).
///
/// The prompts are left-padded to the longest and prefilled in one forward (position ids
/// `cumsum(mask) - 1`), then every step feeds one token per row; rows that produced EOS keep feeding
/// padding and their output is fixed. A prompt's greedy output does not depend on the prompts it is
/// batched with.
/// - Parameters:
///   - model: the model.
///   - prompts: B token lists (each non-empty, ids in `0..<V`).
///   - config: budget, sampling and special tokens.
/// - Returns: per-row new tokens and their log-probabilities.
/// - Throws: `LlamaError.invalidInput` for an empty batch or prompt, an id outside the vocabulary, a
///   budget < 1, invalid sampling parameters, or a prompt whose length plus the budget exceeds
///   `max_position_embeddings` (shorten the prompt or lower `maxNewTokens`).
/// - Source: transformers `GenerationMixin._sample`; Pope et al. 2022, "Efficiently Scaling Transformer
///   Inference" (KV cache).
public func generate(model: LlamaModel, prompts: [[Int32]], config: GenerationConfig) throws -> GenerationResult {
    let cfg = model.config
    try config.sampling.validate()
    guard !prompts.isEmpty else { throw LlamaError.invalidInput("generate: no prompts") }
    guard config.maxNewTokens >= 1 else { throw LlamaError.invalidInput("maxNewTokens \(config.maxNewTokens) must be >= 1") }
    for (i, p) in prompts.enumerated() {
        guard !p.isEmpty else { throw LlamaError.invalidInput("prompt \(i) is empty; it needs at least one token (e.g. BOS)") }
        if let t = p.first(where: { $0 < 0 || Int($0) >= cfg.vocabSize }) {
            throw LlamaError.invalidInput("prompt \(i): token id \(t) is outside the vocabulary [0, \(cfg.vocabSize))")
        }
        if p.count + config.maxNewTokens > cfg.maxPositionEmbeddings {
            throw LlamaError.invalidInput("prompt \(i): \(p.count) tokens + maxNewTokens \(config.maxNewTokens) exceed max_position_embeddings \(cfg.maxPositionEmbeddings); shorten the prompt or lower maxNewTokens")
        }
    }
    for (name, id) in [("eosTokenId", config.eosTokenId), ("padTokenId", config.padTokenId)] {
        if let id, id < 0 || Int(id) >= cfg.vocabSize {
            throw LlamaError.invalidInput("\(name) \(id) is outside the vocabulary [0, \(cfg.vocabSize))")
        }
    }

    let b = prompts.count, v = cfg.vocabSize
    let pad = config.padTokenId ?? config.eosTokenId ?? 0
    let input = LlamaInput.leftPadded(prompts, padToken: pad)
    let cache = LlamaKVCache(config: cfg, batch: b, capacity: input.seqLen + config.maxNewTokens, maxQueryLength: input.seqLen)
    let sampler = TokenSampler(parameters: config.sampling, vocabSize: v)
    var rngs = (0..<b).map { Xoshiro256(seed: config.seed ^ (UInt64(truncatingIfNeeded: $0) &* 0x9E37_79B9_7F4A_7C15)) }
    var result = GenerationResult(tokens: Array(repeating: [], count: b), logProbs: Array(repeating: [], count: b),
                                  finishedWithEOS: Array(repeating: false, count: b))
    for r in 0..<b {
        result.tokens[r].reserveCapacity(config.maxNewTokens)
        result.logProbs[r].reserveCapacity(config.maxNewTokens)
    }
    var next = [Int32](repeating: pad, count: b)
    var done = [Bool](repeating: false, count: b)
    var remaining = b

    var logits = try model.forward(appending: input.tokens, queryLength: input.seqLen, attentionMask: input.attentionMask,
                                   cache: cache, allLogits: false)
    for step in 0..<config.maxNewTokens {
        for r in 0..<b {
            if done[r] { next[r] = pad; continue }
            let (tok, lp) = sampler.sample(logits: logits.data + r * v, rng: &rngs[r])
            next[r] = tok
            result.tokens[r].append(tok)
            result.logProbs[r].append(lp)
            if let eos = config.eosTokenId, tok == eos {
                done[r] = true
                result.finishedWithEOS[r] = true
                remaining -= 1
            }
        }
        if remaining == 0 || step == config.maxNewTokens - 1 { break }
        logits = try model.forward(appending: next, queryLength: 1, cache: cache, allLogits: false)
    }
    return result
}
