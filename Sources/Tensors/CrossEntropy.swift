// Softmax cross-entropy over the vocabulary with an ignore index, averaged over counted rows.
//
// Legend: N = rows (B*T tokens), V = vocabulary size.

import Foundation

// MARK: - Cross-entropy

/// The label value whose rows are left out of the loss (PyTorch's default `ignore_index`).
public let ignoreIndex: Int32 = -100

/// Mean softmax cross-entropy over rows whose target is not `ignoreIndex`, in nats/token.
/// - Parameters:
///   - losses: `[N]`, written: per-row loss (0 for ignored rows).
///   - logSumExp: `[N]` or nil; when given, written for counted rows: `log(sum_j exp(logits[n, j]))`
///     (pass it to `crossEntropyBackward` to skip recomputing the softmax normaliser).
///   - logits: `[N, V]`; targets: `[N]` ids in `0..<V` or `ignoreIndex`.
/// - Returns: `(mean loss in nats, number of counted rows)`; the mean is 0 when no row counts (PyTorch
///   returns NaN there; we return 0 and a zero gradient so an all-padding batch cannot poison training).
/// - Source: PyTorch `F.cross_entropy(reduction="mean", ignore_index=-100)`.
@discardableResult
public func crossEntropyForward(losses: UnsafeMutablePointer<Float>, logSumExp: UnsafeMutablePointer<Float>? = nil,
                                logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
                                rows: Int, vocab: Int) -> (loss: Float, count: Int) {
    parallelRanges(rows, minPerThread: max(1, 16_384 / max(1, vocab))) { range in
        for n in range {
            let t = targets[n]
            if t == ignoreIndex { losses[n] = 0; continue }
            let z = logits + n * vocab
            let m = maxOf(z, count: vocab)
            let s = sumExpShifted(z, count: vocab, max: m)
            let lse = Float(log(s)) + m
            logSumExp?[n] = lse
            losses[n] = lse - z[Int(t)]
        }
    }
    var total = 0.0, counted = 0
    for n in 0..<rows where targets[n] != ignoreIndex {
        total += Double(losses[n])
        counted += 1
    }
    return (counted == 0 ? 0 : Float(total / Double(counted)), counted)
}

/// Backward of `crossEntropyForward`: `dlogits[n] += dloss / count * (softmax(logits[n]) - onehot(t))`
/// for counted rows; ignored rows get nothing.
/// - Parameters:
///   - dlogits: `[N, V]`, accumulated.
///   - logits: `[N, V]`; targets: `[N]`.
///   - dloss: gradient of the objective w.r.t. the mean loss (1 for plain training).
///   - count: counted rows returned by forward (the mean's denominator).
///   - logSumExp: `[N]` written by `crossEntropyForward` on the same logits, or nil to recompute it
///     (with it, one pass over each row: `softmax = exp(logits - logSumExp)`).
public func crossEntropyBackward(dlogits: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
                                 rows: Int, vocab: Int, dloss: Float, count: Int, logSumExp: UnsafePointer<Float>? = nil) {
    guard count > 0 else { return }
    let scale = dloss / Float(count)
    parallelRanges(rows, minPerThread: max(1, 16_384 / max(1, vocab))) { range in
        for n in range {
            let t = targets[n]
            if t == ignoreIndex { continue }
            let z = logits + n * vocab, dz = dlogits + n * vocab
            if let logSumExp {
                addScaledExpShifted(dz, z, count: vocab, max: logSumExp[n], factor: scale)
            } else {
                let m = maxOf(z, count: vocab)
                let s = sumExpShifted(z, count: vocab, max: m)
                addScaledExpShifted(dz, z, count: vocab, max: m, factor: scale / Float(s))
            }
            dz[Int(t)] -= scale
        }
    }
}
