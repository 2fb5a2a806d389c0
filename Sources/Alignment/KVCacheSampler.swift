// The rollout sampler PPO and the reward-model normalisation use by default: the KV-cache batched
// generator of `Llama` behind the `ResponseSampler` seam.

import Llama
import Training

/// A `ResponseSampler` backed by `Llama.generate(model:prompts:config:)` (KV cache, one token per row
/// per step, left padding with `position_ids = cumsum(mask) - 1`).
///
/// The distribution is the same as `RecomputingSampler`'s (softmax(logits / temperature), greedy at 0)
/// but each call costs O(Tp + L) token-forwards instead of O(L · (Tp + L)). The random stream: one
/// 64-bit draw from `rng` per call seeds the generator's per-row streams, so a run is reproducible
/// and a checkpointed `rng` continues identically. Rows that finish early are filled with
/// `padTokenId` up to `responseLength`.
public struct KVCacheSampler: ResponseSampler {
    public init() {}

    /// See `ResponseSampler.sample`. Invalid input (an empty prompt, a token outside the vocabulary,
    /// prompt + response longer than `max_position_embeddings`) is a programmer error here: callers
    /// validate prompts before training starts.
    public func sample(model: LlamaModel, prompts: [[Int32]], responseLength: Int, temperature: Float,
                       eosTokenId: Int32?, padTokenId: Int32, rng: inout Xoshiro256StarStar) -> [[Int32]] {
        let config = GenerationConfig(maxNewTokens: responseLength, temperature: temperature, seed: rng.next(),
                                      eosTokenId: eosTokenId, padTokenId: padTokenId)
        let result: GenerationResult
        do {
            result = try generate(model: model, prompts: prompts, config: config)
        } catch {
            preconditionFailure("KVCacheSampler: generation rejected validated prompts: \(error)")
        }
        return result.tokens.map { row in
            row.count >= responseLength ? Array(row.prefix(responseLength))
                : row + [Int32](repeating: padTokenId, count: responseLength - row.count)
        }
    }
}
