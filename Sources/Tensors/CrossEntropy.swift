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
///   - logits: `[N, V]`; targets: `[N]` ids in `0..<V` or `ignoreIndex`.
/// - Returns: `(mean loss in nats, number of counted rows)`; the mean is 0 when no row counts (PyTorch
///   returns NaN there; we return 0 and a zero gradient so an all-padding batch cannot poison training).
/// - Source: PyTorch `F.cross_entropy(reduction="mean", ignore_index=-100)`.
@discardableResult
public func crossEntropyForward(losses: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
                                rows: Int, vocab: Int) -> (loss: Float, count: Int) {
    var total = 0.0, counted = 0
    for n in 0..<rows {
        let t = targets[n]
        if t == ignoreIndex { losses[n] = 0; continue }
        let z = logits + n * vocab
        var m = -Float.infinity
        for v in 0..<vocab { m = max(m, z[v]) }
        var s = 0.0
        for v in 0..<vocab { s += Double(expf(z[v] - m)) }
        let l = Float(log(s)) + m - z[Int(t)]
        losses[n] = l
        total += Double(l)
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
public func crossEntropyBackward(dlogits: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
                                 rows: Int, vocab: Int, dloss: Float, count: Int) {
    guard count > 0 else { return }
    let scale = dloss / Float(count)
    for n in 0..<rows {
        let t = targets[n]
        if t == ignoreIndex { continue }
        let z = logits + n * vocab, dz = dlogits + n * vocab
        var m = -Float.infinity
        for v in 0..<vocab { m = max(m, z[v]) }
        var s: Float = 0
        for v in 0..<vocab { s += expf(z[v] - m) }
        let inv = 1 / s
        for v in 0..<vocab { dz[v] += scale * expf(z[v] - m) * inv }
        dz[Int(t)] -= scale
    }
}
