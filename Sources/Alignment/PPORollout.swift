// The batch tensors of one PPO iteration and the policy forward that reads log-probabilities and
// values at the response positions.
//
// Legend: B rollout rows, Tp longest prompt of the batch, L response_length, T = Tp + L, C hidden_size,
// V vocab_size. Row b of the model input is `[pads][prompt_b][response_b]`: prompts left-padded,
// responses (truncated after EOS, then pads) right after; the logits at column `Tp - 1 + t` predict
// response token t, and the value read there is the value of the state before token t.

import Llama
import Tensors

// MARK: - Rollout batch

/// Everything PPO keeps from a rollout (TRL PPOv2 names in the docs).
public struct PPORollout: Sendable {
    /// Prompt tokens per row `[B][Tp_b]` (`queries`).
    public var queries: [[Int32]]
    /// Longest prompt Tp.
    public var promptLength: Int
    /// L.
    public var responseLength: Int
    /// Responses after truncation `[B*L]` (pads after the first EOS) (`postprocessed_responses`).
    public var responses: [Int32]
    /// `[B*L]` real response tokens (through the first EOS).
    public var mask: [Bool]
    /// `[B]`.
    public var containsEOS: [Bool]
    /// Rollout log-probabilities at the sampling temperature `[B*L]` (`logprobs`).
    public var logProbs: [Float]
    /// Reference log-probabilities `[B*L]` (`ref_logprobs`).
    public var refLogProbs: [Float]
    /// Value-head predictions `[B*L]` (`values`).
    public var values: [Float]
    /// Scores after normalisation and the missing-EOS penalty `[B]` (`scores`).
    public var scores: [Float]
    /// Per-token rewards `[B*L]`.
    public var rewards: PerTokenRewards
    /// Whitened advantages `[B*L]`.
    public var advantages: [Float]
    /// Value targets `[B*L]`.
    public var returns: [Float]

    /// Rows B.
    public var batchSize: Int { queries.count }

    /// Real response tokens of row b (through the first EOS).
    public func responseTokens(_ b: Int) -> [Int32] {
        (0..<responseLength).filter { mask[b * responseLength + $0] }.map { responses[b * responseLength + $0] }
    }
}

// MARK: - Model input

/// Builds the model input `[pads][prompt][response]` of each row, with the attention mask (0 on left
/// pads and on pads after the EOS) and `position_ids = cumsum(mask) - 1` (clamped at 0).
/// - Parameters:
///   - queries: prompt tokens per row (each non-empty, at most `promptLength`).
///   - responses: `[R*L]` response tokens.
///   - mask: `[R*L]` real response tokens.
///   - promptLength: Tp (pad every prompt to it).
///   - responseLength: L.
///   - padTokenId: id written in padded slots.
/// - Returns: an input of R rows of `Tp + L` tokens.
public func ppoModelInput(queries: [[Int32]], responses: [Int32], mask: [Bool], promptLength tp: Int,
                          responseLength l: Int, padTokenId: Int32) -> LlamaInput {
    let r = queries.count, t = tp + l
    var tokens = [Int32](repeating: padTokenId, count: r * t)
    var m = [UInt8](repeating: 0, count: r * t)
    var pos = [Int32](repeating: 0, count: r * t)
    for b in 0..<r {
        let q = queries[b], off = tp - q.count
        for (j, tok) in q.enumerated() { tokens[b * t + off + j] = tok; m[b * t + off + j] = 1 }
        for j in 0..<l where mask[b * l + j] { tokens[b * t + tp + j] = responses[b * l + j]; m[b * t + tp + j] = 1 }
        var c: Int32 = 0
        for j in 0..<t {
            c += Int32(m[b * t + j])
            pos[b * t + j] = Swift.max(0, c - 1)
        }
    }
    return LlamaInput(tokens: tokens, batch: r, seqLen: t, positionIds: pos, attentionMask: m)
}

/// What a policy forward over rollout rows gives at the response positions.
public struct ResponseForward {
    /// Log-probabilities of the response tokens at the temperature `[R*L]`.
    public var logProbs: [Float]
    /// Values `[R*L]` (empty when no value head was given).
    public var values: [Float]
    /// Logits at the response positions `[R*L, V]` (raw, not divided by the temperature).
    public var logits: [Float]
    /// Final-norm hidden states at the response positions `[R*L, C]` (for the value head's gradient).
    public var hidden: [Float]
    /// `logsumexp(logits / temperature)` per response position `[R*L]` (reused by the update's backward).
    public var logSumExp: [Double]
}

/// Runs `model` on rollout rows and gathers log-probabilities (at `temperature`) and values at the
/// response positions (side effect: the model caches this forward for a backward).
/// - Parameters:
///   - model: the policy or the reference.
///   - input: from `ppoModelInput`.
///   - responses: `[R*L]` tokens whose log-probabilities are read.
///   - promptLength: Tp.
///   - responseLength: L.
///   - temperature: the sampling temperature (logits are divided by it, N implementation details §12).
///   - valueHead: `[1, C]` weight, or nil.
public func responseForward(model: LlamaModel, input: LlamaInput, responses: [Int32], promptLength tp: Int,
                            responseLength l: Int, temperature: Float, valueHead: Parameter?) -> ResponseForward {
    let out = model.forward(input)
    let r = input.batch, t = input.seqLen, v = model.config.vocabSize, c = model.config.hiddenSize
    var logits = [Float](repeating: 0, count: r * l * v)
    var hidden = [Float](repeating: 0, count: r * l * c)
    var values = [Float](repeating: 0, count: valueHead == nil ? 0 : r * l)
    let lg = out.logits!
    for b in 0..<r {
        for j in 0..<l {
            let src = b * t + tp - 1 + j, dst = b * l + j
            logits.withUnsafeMutableBufferPointer { $0.baseAddress!.advanced(by: dst * v).update(from: lg.data + src * v, count: v) }
            hidden.withUnsafeMutableBufferPointer { $0.baseAddress!.advanced(by: dst * c).update(from: out.hidden.data + src * c, count: c) }
            if let valueHead {
                var s: Float = 0
                for k in 0..<c { s += out.hidden[src * c + k] * valueHead.value[k] }
                values[dst] = s
            }
        }
    }
    let (lp, lse) = logits.withUnsafeBufferPointer {
        gatherLogProbsAndLogSumExp(logits: $0, tokens: responses, vocabSize: v, temperature: temperature)
    }
    return ResponseForward(logProbs: lp, values: values, logits: logits, hidden: hidden, logSumExp: lse)
}
