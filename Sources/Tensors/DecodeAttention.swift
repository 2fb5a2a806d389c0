// Kernels of one incremental-decoding step: attention of one new query per row over a KV cache, and the
// argmax / log-sum-exp of a logits row (greedy choice and its log-probability in one pass each).
//
// Legend: B batch, Tk cached keys per row, Tmax cache capacity, H heads, G kv heads, D head_dim, V vocab.

import Foundation

// MARK: - Decode attention

/// Causal GQA attention of one new query per row over the row's `Tk` cached keys (the last slot is the
/// query's own), skipping slots whose `keyMask` is 0; a query that sees no key gets a zero output.
/// Same math as `attentionForward` for its last row (scores `q·k * D^-1/2`, max-shifted softmax with the
/// vectorised exp of the unmasked training path, weighted sum of values), vectorised over D and split over
/// (row, head) pairs across `kernelThreads()` threads when the step is large enough.
/// - Parameters:
///   - out: `[B, H*D]`, written.
///   - scores: `[B*H, Tmax]` workspace (one row per (row, head) pair, so threads never share one).
///   - q: `[B, H*D]` after RoPE.
///   - kCache, vCache: `[B, Tmax, G*D]`, the first Tk slots filled.
///   - keyMask: `[B, Tmax]`, 1 real token, 0 padding.
///   - batch: B; keyLength: Tk; capacity: Tmax; heads: H; kvHeads: G (divides H); headDim: D.
/// - Source: Vaswani et al. 2017, section 3.2.1; Ainslie et al. 2023 (GQA).
public func decodeAttentionForward(out: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>,
                                   q: UnsafePointer<Float>, kCache: UnsafePointer<Float>, vCache: UnsafePointer<Float>,
                                   keyMask: UnsafePointer<UInt8>, batch: Int, keyLength tk: Int, capacity: Int,
                                   heads: Int, kvHeads: Int, headDim d: Int) {
    let qStride = heads * d, kvStride = kvHeads * d, group = heads / kvHeads
    let scale = 1 / Float(d).squareRoot()
    // About 4 multiply-adds per key and channel (q·k and p·v, plus loads): a thread is worth ~64k.
    let perItem = max(1, tk * d)
    parallelRanges(batch * heads, minPerThread: max(1, 65_536 / perItem)) { range in
        for item in range {
            let b = item / heads, h = item % heads
            let mrow = keyMask + b * capacity
            let qb = q + b * qStride + h * d
            let kb = kCache + b * capacity * kvStride + (h / group) * d
            let vb = vCache + b * capacity * kvStride + (h / group) * d
            let ob = out + b * qStride + h * d
            let sc = scores + item * capacity
            var m = -Float.infinity
            for j in 0..<tk {
                if mrow[j] != 0 {
                    let s = dotProduct(qb, kb + j * kvStride, count: d) * scale
                    sc[j] = s
                    if s > m { m = s }
                } else {
                    sc[j] = -.infinity
                }
            }
            ob.update(repeating: 0, count: d)
            if m == -Float.infinity { continue }
            // exp over the whole row in place (masked slots give ~1e-38 and are skipped below).
            _ = expSubtractInPlace(sc, count: tk, max: m)
            var sum: Float = 0
            for j in 0..<tk where mrow[j] != 0 { sum += sc[j] }
            let inv = 1 / sum
            for j in 0..<tk where mrow[j] != 0 {
                axpy(ob, sc[j] * inv, vb + j * kvStride, count: d)
            }
        }
    }
}

/// `y[j] += a * x[j]` over `0..<count`.
@inline(__always)
func axpy(_ y: UnsafeMutablePointer<Float>, _ a: Float, _ x: UnsafePointer<Float>, count: Int) {
    var i = 0
    while i + vectorWidth <= count { store16(load16(y + i) + a * load16(x + i), y + i); i += vectorWidth }
    while i < count { y[i] += a * x[i]; i += 1 }
}

// MARK: - Logits row reductions

/// The first index of the largest of `p[0..<count]` (NaN never wins), that largest value, and
/// `log(sum_j exp(p[j]))` (max-shifted, the sum in Double across lanes), in two vectorised passes.
/// What greedy decoding needs: the token and its log-probability `p[index] - logSumExp`.
/// - Parameters:
///   - p: `[count]` logits; count >= 1.
/// - Returns: the argmax (first among equal maxima), the max, and the log-sum-exp in nats.
public func argmaxLogSumExp(_ p: UnsafePointer<Float>, count: Int) -> (index: Int, max: Float, logSumExp: Float) {
    let m = maxOf(p, count: count)
    var arg = 0
    while arg < count - 1 && !(p[arg] == m) { arg += 1 }
    if m == -Float.infinity || m != m { return (arg, m, m) }
    let z = sumExpShifted(p, count: count, max: m)
    return (arg, m, Float(log(z)) + m)
}

/// `out[j] = p[j] * factor` over `0..<count` (vectorised).
public func scaleCopy(_ p: UnsafePointer<Float>, by factor: Float, into out: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i + vectorWidth <= count { store16(load16(p + i) * factor, out + i); i += vectorWidth }
    while i < count { out[i] = p[i] * factor; i += 1 }
}
