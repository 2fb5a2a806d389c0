// Sampling responses from a policy: the seam PPO and the reward-model normalisation use to generate.
//
// Legend: B prompts, Tp longest prompt (tokens), L response_length (new tokens), V vocab_size.

import Llama
import Tensors
import Training
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Protocol

/// Generates `L` new tokens per prompt (left-padded batch, `position_ids = cumsum(mask) - 1`), sampling
/// from `softmax(logits / temperature)` with the given generator, or greedily when temperature is 0.
///
/// Conformers: `RecomputingSampler` (recomputes the whole sequence at each step; exact, slow for long
/// responses) here; a KV-cache generator plugs in through this protocol.
public protocol ResponseSampler {
    /// - Parameters:
    ///   - model: the policy (its activation cache is overwritten).
    ///   - prompts: B non-empty token lists.
    ///   - responseLength: L new tokens per prompt.
    ///   - temperature: > 0 samples, 0 is greedy (argmax, first maximum).
    ///   - eosTokenId: once a row has produced it, the row's further tokens are `padTokenId` (the
    ///     caller still truncates; this only saves work).
    ///   - padTokenId: left-padding id.
    ///   - rng: the random stream (advanced by one draw per sampled token of an unfinished row).
    /// - Returns: `[B][L]` tokens.
    func sample(model: LlamaModel, prompts: [[Int32]], responseLength: Int, temperature: Float,
                eosTokenId: Int32?, padTokenId: Int32, rng: inout Xoshiro256StarStar) -> [[Int32]]
}

// MARK: - Full-recompute sampler

/// A `ResponseSampler` without a KV cache: at step t it runs the model on the left-padded
/// `prompt + t` generated tokens and samples from the last position's logits. Exact (the same
/// distribution as a cached generator) but O(L * (Tp + L)) token-forwards; fine for short responses.
public struct RecomputingSampler: ResponseSampler {
    public init() {}

    public func sample(model: LlamaModel, prompts: [[Int32]], responseLength: Int, temperature: Float,
                       eosTokenId: Int32?, padTokenId: Int32, rng: inout Xoshiro256StarStar) -> [[Int32]] {
        let v = model.config.vocabSize
        var seqs = prompts
        var out = [[Int32]](repeating: [], count: prompts.count)
        var done = [Bool](repeating: false, count: prompts.count)
        for _ in 0..<responseLength {
            if done.allSatisfy({ $0 }) {
                for b in out.indices { out[b].append(padTokenId) }
                continue
            }
            let input = LlamaInput.leftPadded(seqs, padToken: padTokenId)
            let logits = model.forward(input).logits!
            let t = input.seqLen
            for b in seqs.indices {
                let tok: Int32
                if done[b] {
                    tok = padTokenId
                } else {
                    let row = UnsafeBufferPointer(start: logits.data + (b * t + t - 1) * v, count: v)
                    tok = sampleToken(logits: row, temperature: temperature, rng: &rng)
                    if tok == eosTokenId { done[b] = true }
                }
                out[b].append(tok)
                // A finished row repeats its last token (never attended by unfinished rows; output is pad).
                let next = tok == padTokenId && done[b] ? (seqs[b].last ?? tok) : tok
                seqs[b].append(next)
            }
        }
        return out
    }
}

/// Draws one token from `softmax(logits / temperature)` (inverse CDF with one uniform in [0, 1) from
/// `rng`), or the argmax when `temperature == 0`.
/// - Parameters:
///   - logits: `[V]`.
///   - temperature: >= 0.
///   - rng: advanced by one draw when sampling.
public func sampleToken(logits: UnsafeBufferPointer<Float>, temperature: Float, rng: inout Xoshiro256StarStar) -> Int32 {
    var best = 0
    for j in 1..<logits.count where logits[j] > logits[best] { best = j }
    guard temperature > 0 else { return Int32(best) }
    let invT = 1 / Double(temperature)
    let m = Double(logits[best]) * invT
    var total = 0.0
    for x in logits { total += exp(Double(x) * invT - m) }
    let u = rng.nextDouble() * total
    var acc = 0.0
    for j in 0..<logits.count {
        acc += exp(Double(logits[j]) * invT - m)
        if u < acc { return Int32(j) }
    }
    return Int32(best)
}
