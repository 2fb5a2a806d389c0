// Log-softmax gather of token log-probabilities from logits, entropy, and their gradients.
import Tensors
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Legend: N rows (B*L token positions), V vocabulary size; logits are row-major `[N, V]`.
// Temperature T: every function works on `logits / T` (the sampling distribution), as Huang et al.
// ("The N Implementation Details of RLHF with PPO", detail 12) require when rescoring; TRL PPOv2
// divides by `T + 1e-7`, we divide by `T` exactly.
// Rows are split over the compute threads (`parallelRanges`); each row's sums run in one thread in the same
// order, so results do not depend on the thread count.

/// Rows per thread below which a loop over `[N, V]` logits stays serial.
let rowsPerThread = 8

// MARK: - Log-probabilities

/// Log-probabilities of `tokens` under `softmax(logits / T)`, one per row:
/// `logp_i = z_i[tok_i]/T - logsumexp(z_i / T)` (max-subtracted, summed in Double).
/// Source: TRL `logprobs_from_logits` / `selective_log_softmax`.
/// - Parameters:
///   - logits: `[N, V]`.
///   - tokens: `[N]`, each in `0..<V`.
///   - vocabSize: V.
///   - temperature: T > 0 (1 for the reward model and DPO; the sampling temperature for PPO).
/// - Returns: `[N]` (nats, <= 0).
public func gatherLogProbs(logits: UnsafeBufferPointer<Float>, tokens: [Int32], vocabSize V: Int,
                           temperature: Float = 1) -> [Float] {
    gatherLogProbsAndLogSumExp(logits: logits, tokens: tokens, vocabSize: V, temperature: temperature).logProbs
}

/// `gatherLogProbs` that also returns each row's `logsumexp(z_i / T)`, for `entropyAndGatherLogProbsBackward`
/// to reuse (one pass over the vocabulary fewer per row).
/// - Parameters: as `gatherLogProbs`.
/// - Returns: log-probabilities `[N]` (nats) and log-sum-exps `[N]`; the log-probabilities equal `gatherLogProbs`'s bit for bit.
public func gatherLogProbsAndLogSumExp(logits: UnsafeBufferPointer<Float>, tokens: [Int32], vocabSize V: Int,
                                       temperature: Float = 1) -> (logProbs: [Float], logSumExp: [Double]) {
    let N = tokens.count
    precondition(logits.count == N * V, "logits must be [N, V] with N = tokens.count")
    for tok in tokens { precondition(tok >= 0 && Int(tok) < V, "token \(tok) outside the vocabulary 0..<\(V)") }
    let invT = 1 / Double(temperature)
    var out = [Float](repeating: 0, count: N), lses = [Double](repeating: 0, count: N)
    out.withUnsafeMutableBufferPointer { o in
        lses.withUnsafeMutableBufferPointer { ls in
            parallelRanges(N, minPerThread: rowsPerThread) { range in
                for i in range {
                    let row = UnsafeBufferPointer(rebasing: logits[(i * V)..<((i + 1) * V)])
                    let lse = logSumExp(row, invT: invT)
                    ls[i] = lse
                    o[i] = Float(Double(row[Int(tokens[i])]) * invT - lse)
                }
            }
        }
    }
    return (out, lses)
}

/// `entropy` and `gatherLogProbsBackward` in one pass over each row, given the rows' log-sum-exps
/// (`gatherLogProbsAndLogSumExp`): returns `H_i` and adds `w_i * (1[j == tok_i] - p_ij) / T` into `dlogits`.
/// Both results equal the separate functions' bit for bit (same terms, same order). Used by the PPO update,
/// which needs the entropy for `policy/entropy_avg` and the gradient of the policy loss.
/// - Parameters:
///   - dlogits: `[N, V]`, accumulated into.
///   - logits: `[N, V]`.
///   - logSumExp: `[N]`, `logsumexp(z_i / T)` of the same logits at the same temperature.
///   - tokens: `[N]`.
///   - weights: `[N]` (rows with weight 0 get no gradient, but their entropy).
///   - vocabSize: V.
///   - temperature: T > 0.
/// - Returns: entropies `[N]` (nats).
public func entropyAndGatherLogProbsBackward(dlogits: UnsafeMutableBufferPointer<Float>, logits: UnsafeBufferPointer<Float>,
                                             logSumExp: [Double], tokens: [Int32], weights: [Float], vocabSize V: Int,
                                             temperature: Float = 1) -> [Float] {
    let N = tokens.count
    precondition(logits.count == N * V && dlogits.count == N * V && weights.count == N && logSumExp.count == N,
                 "shapes: logits/dlogits [N, V], weights/logSumExp [N]")
    let invT = 1 / Double(temperature)
    var out = [Float](repeating: 0, count: N)
    out.withUnsafeMutableBufferPointer { o in
        parallelRanges(N, minPerThread: rowsPerThread) { range in
            for i in range {
                let row = UnsafeBufferPointer(rebasing: logits[(i * V)..<((i + 1) * V)])
                let lse = logSumExp[i]
                let w = Double(weights[i]) * invT
                var pz = 0.0
                if weights[i] != 0 {
                    for j in 0..<V {
                        let z = Double(row[j]) * invT
                        let p = exp(z - lse)
                        pz += p * z
                        dlogits[i * V + j] += Float(-w * p)
                    }
                    dlogits[i * V + Int(tokens[i])] += Float(w)
                } else {
                    for j in 0..<V {
                        let z = Double(row[j]) * invT
                        pz += exp(z - lse) * z
                    }
                }
                o[i] = Float(lse - pz)
            }
        }
    }
    return out
}

/// Array convenience of `gatherLogProbs(logits:tokens:vocabSize:temperature:)`.
public func gatherLogProbs(logits: [Float], tokens: [Int32], vocabSize: Int, temperature: Float = 1) -> [Float] {
    logits.withUnsafeBufferPointer { gatherLogProbs(logits: $0, tokens: tokens, vocabSize: vocabSize, temperature: temperature) }
}

/// Adds into `dlogits` the gradient of `sum_i w_i * logp_i` w.r.t. the raw logits (llm.c style:
/// accumulates): `dlogits[i, j] += w_i * (1[j == tok_i] - softmax(z_i / T)[j]) / T`.
/// Feed it to the model's backward: e.g. `w = dLoss/dlogp` from `clippedPolicyLoss` (PPO), or
/// `-1/count` per target token (cross-entropy).
/// - Parameters:
///   - dlogits: `[N, V]`, accumulated into.
///   - logits: `[N, V]`.
///   - tokens: `[N]`.
///   - weights: `[N]` (rows with weight 0 are skipped).
///   - vocabSize: V.
///   - temperature: T > 0.
public func gatherLogProbsBackward(dlogits: UnsafeMutableBufferPointer<Float>, logits: UnsafeBufferPointer<Float>,
                                   tokens: [Int32], weights: [Float], vocabSize V: Int, temperature: Float = 1) {
    let N = tokens.count
    precondition(logits.count == N * V && dlogits.count == N * V && weights.count == N, "shapes: logits/dlogits [N, V], weights [N]")
    let invT = 1 / Double(temperature)
    parallelRanges(N, minPerThread: rowsPerThread) { range in
        for i in range where weights[i] != 0 {
            let row = UnsafeBufferPointer(rebasing: logits[(i * V)..<((i + 1) * V)])
            let lse = logSumExp(row, invT: invT)
            let w = Double(weights[i]) * invT
            for j in 0..<V {
                let p = exp(Double(row[j]) * invT - lse)
                dlogits[i * V + j] += Float(-w * p)
            }
            dlogits[i * V + Int(tokens[i])] += Float(w)
        }
    }
}

/// Array convenience of `gatherLogProbsBackward(dlogits:logits:tokens:weights:vocabSize:temperature:)`.
public func gatherLogProbsBackward(dlogits: inout [Float], logits: [Float], tokens: [Int32], weights: [Float],
                                   vocabSize: Int, temperature: Float = 1) {
    dlogits.withUnsafeMutableBufferPointer { d in
        logits.withUnsafeBufferPointer { l in
            gatherLogProbsBackward(dlogits: d, logits: l, tokens: tokens, weights: weights, vocabSize: vocabSize, temperature: temperature)
        }
    }
}

// MARK: - Entropy

/// Entropy of each row's distribution `softmax(logits / T)`: `H_i = logsumexp(z/T) - sum_j p_j z_j / T`.
/// Source: TRL `entropy_from_logits` (`objective/entropy`, `policy/entropy_avg`).
/// - Parameters:
///   - logits: `[N, V]`.
///   - rows: N.
///   - vocabSize: V.
///   - temperature: T > 0.
/// - Returns: `[N]` (nats).
public func entropy(logits: UnsafeBufferPointer<Float>, rows N: Int, vocabSize V: Int, temperature: Float = 1) -> [Float] {
    precondition(logits.count == N * V, "logits must be [N, V]")
    let invT = 1 / Double(temperature)
    var out = [Float](repeating: 0, count: N)
    out.withUnsafeMutableBufferPointer { o in
        parallelRanges(N, minPerThread: rowsPerThread) { range in
            for i in range {
                let row = UnsafeBufferPointer(rebasing: logits[(i * V)..<((i + 1) * V)])
                let lse = logSumExp(row, invT: invT)
                var pz = 0.0
                for j in 0..<V {
                    let z = Double(row[j]) * invT
                    pz += exp(z - lse) * z
                }
                o[i] = Float(lse - pz)
            }
        }
    }
    return out
}

/// Array convenience of `entropy(logits:rows:vocabSize:temperature:)`.
public func entropy(logits: [Float], rows: Int, vocabSize: Int, temperature: Float = 1) -> [Float] {
    logits.withUnsafeBufferPointer { entropy(logits: $0, rows: rows, vocabSize: vocabSize, temperature: temperature) }
}

/// Adds into `dlogits` the gradient of `sum_i w_i * H_i` w.r.t. the raw logits:
/// `dH_i/dz_ij = -p_ij (log p_ij + H_i) / T` (for an entropy bonus, pass `w = -coef / count`).
/// - Parameters:
///   - dlogits: `[N, V]`, accumulated into.
///   - logits: `[N, V]`.
///   - weights: `[N]`.
///   - vocabSize: V.
///   - temperature: T > 0.
public func entropyBackward(dlogits: inout [Float], logits: [Float], weights: [Float], vocabSize V: Int, temperature: Float = 1) {
    let N = weights.count
    precondition(logits.count == N * V && dlogits.count == N * V, "shapes: logits/dlogits [N, V], weights [N]")
    let invT = 1 / Double(temperature)
    logits.withUnsafeBufferPointer { l in
        for i in 0..<N where weights[i] != 0 {
            let row = UnsafeBufferPointer(rebasing: l[(i * V)..<((i + 1) * V)])
            let lse = logSumExp(row, invT: invT)
            var h = 0.0
            for j in 0..<V {
                let lp = Double(row[j]) * invT - lse
                h -= exp(lp) * lp
            }
            let w = Double(weights[i]) * invT
            for j in 0..<V {
                let lp = Double(row[j]) * invT - lse
                dlogits[i * V + j] += Float(-w * exp(lp) * (lp + h))
            }
        }
    }
}

/// `log sum_j exp(row[j] * invT)`, max-subtracted.
@inline(__always) func logSumExp(_ row: UnsafeBufferPointer<Float>, invT: Double) -> Double {
    var m = -Double.infinity
    for x in row { m = Swift.max(m, Double(x) * invT) }
    if m == -Double.infinity { return m }
    var s = 0.0
    for x in row { s += exp(Double(x) * invT - m) }
    return m + log(s)
}
