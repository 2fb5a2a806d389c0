// Causal scaled dot-product attention with grouped-query heads and a key padding mask. Per (batch, head)
// the queries go in blocks of `attentionBlock` rows; each block multiplies only the keys it can see
// (causal: keys 0..<Tk-Tq+end of block), so about half the T×T square is never computed. The (batch, kv
// head) pairs are spread over the compute threads (`parallelItems`), each running its small sgemm calls
// serially in its worker (small shapes scale badly inside one threaded sgemm).
//
// Legend: B = batch, Tq = query tokens, Tk = key tokens (Tk >= Tq; query i sits at key index
// Tk - Tq + i, so Tq == Tk in training and Tq < Tk when decoding with a KV cache), H = query heads,
// G = key/value heads (H % G == 0; query head h reads kv head h / (H / G)), D = head dim.

import Foundation

// MARK: - Shapes

/// Sizes and strides of one attention call.
public struct AttentionShape: Sendable, Equatable {
    /// B.
    public var batch: Int
    /// Tq: query tokens per sequence.
    public var queryLength: Int
    /// Tk: key tokens per sequence (the last Tq of them are the queries' own positions).
    public var keyLength: Int
    /// H.
    public var heads: Int
    /// G.
    public var kvHeads: Int
    /// D.
    public var headDim: Int
    /// Elements between sequence b and b+1 of K and V (default Tk*G*D; a KV cache with capacity
    /// Tmax uses Tmax*G*D).
    public var keyBatchStride: Int

    /// - Parameters: see the properties; `keyBatchStride` defaults to `keyLength * kvHeads * headDim`.
    public init(batch: Int, queryLength: Int, keyLength: Int, heads: Int, kvHeads: Int, headDim: Int, keyBatchStride: Int? = nil) {
        self.batch = batch
        self.queryLength = queryLength
        self.keyLength = keyLength
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.keyBatchStride = keyBatchStride ?? keyLength * kvHeads * headDim
    }
}

// MARK: - Attention

/// Query rows per block (the causal skipping granularity).
let attentionBlock = 64

/// Causal GQA attention: `out = softmax(q k^T / sqrt(D) + mask) v` per (batch, head), softmax in fp32.
///
/// Key j is visible to query i when `j <= Tk - Tq + i` and `keyMask[b, j] != 0`. Masked scores get
/// probability exactly 0 (as HF's additive `finfo.min` mask does after `exp`). A query that sees no key at
/// all (a left-padding query) gets all-zero probabilities and a zero output row, never NaN (as torch
/// SDPA, transformers' default attention, does; HF eager would average all keys uniformly there).
///
/// Threading: runs the (batch, kv head) pairs on `kernelThreads()` threads (`parallelItems`), each
/// pair's sgemm calls serially in its worker.
/// - Parameters:
///   - out: `[B*Tq, H*D]`, written.
///   - probs: `[B, H, Tq, Tk]`, written: attention probabilities (kept for backward).
///   - q: `[B*Tq, H*D]` (after RoPE).
///   - k, v: `[B, Tk, G*D]` with batch stride `shape.keyBatchStride` (after RoPE for k).
///   - keyMask: `[B, Tk]`, 1 real token, 0 padding; nil means all real.
/// - Source: Vaswani et al. 2017, section 3.2.1; Ainslie et al. 2023 (GQA); HF `eager_attention_forward`.
public func attentionForward(out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
                             q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                             keyMask: UnsafePointer<UInt8>?, shape s: AttentionShape) {
    let tq = s.queryLength, tk = s.keyLength, d = s.headDim
    let qStride = s.heads * d, kvStride = s.kvHeads * d, group = s.heads / s.kvHeads
    let offset = tk - tq
    let scale = 1 / Float(d).squareRoot()
    parallelItems(s.batch * s.kvHeads) { _, item in
        let b = item / s.kvHeads, g = item % s.kvHeads
        let kb = k + b * s.keyBatchStride + g * d
        let vb = v + b * s.keyBatchStride + g * d
        let mask = keyMask.map { $0 + b * tk }
        for h in (g * group)..<((g + 1) * group) {
            let p = probs + ((b * s.heads + h) * tq) * tk
            let qb = q + b * tq * qStride + h * d
            let ob = out + b * tq * qStride + h * d
            var i0 = 0
            while i0 < tq {
                let i1 = min(tq, i0 + attentionBlock), rows = i1 - i0
                let kv = offset + i1  // keys visible to the block's last query
                // scores[rows, kv] = q_bh[rows, D] · k_bh[kv, D]^T * scale
                sgemm(transA: false, transB: true, m: rows, n: kv, k: d, alpha: scale, a: qb + i0 * qStride, lda: qStride,
                      b: kb, ldb: kvStride, beta: 0, c: p + i0 * tk, ldc: tk)
                for i in i0..<i1 { softmaxCausalRow(p + i * tk, last: offset + i, count: tk, mask: mask) }
                // out_bh[rows, D] = probs[rows, kv] · v_bh[kv, D]
                sgemm(transA: false, transB: false, m: rows, n: d, k: kv, alpha: 1, a: p + i0 * tk, lda: tk,
                      b: vb, ldb: kvStride, beta: 0, c: ob + i0 * qStride, ldc: qStride)
                i0 = i1
            }
        }
    }
}

/// In place: `row[0...last]` (the visible scores, minus masked keys) becomes its softmax, every other
/// entry of `row[0..<count]` becomes 0; a row with no visible key becomes all zeros.
@inline(__always)
func softmaxCausalRow(_ row: UnsafeMutablePointer<Float>, last: Int, count: Int, mask: UnsafePointer<UInt8>?) {
    if last + 1 < count { (row + last + 1).update(repeating: 0, count: count - last - 1) }
    if let mask {
        var m = -Float.infinity
        for j in 0...last where mask[j] != 0 { m = max(m, row[j]) }
        if m == -Float.infinity {
            row.update(repeating: 0, count: last + 1)
            return
        }
        var sum: Float = 0
        for j in 0...last {
            if mask[j] != 0 {
                let e = expf(row[j] - m)
                row[j] = e
                sum += e
            } else {
                row[j] = 0
            }
        }
        let inv = 1 / sum
        for j in 0...last { row[j] *= inv }
    } else {
        let m = maxOf(row, count: last + 1)
        let sum = expSubtractInPlace(row, count: last + 1, max: m)
        scaleInPlace(row, count: last + 1, by: 1 / sum)
    }
}

/// Backward of `attentionForward`; *adds* into `dq`, `dk`, `dv` (GQA: the H/G query heads of a group
/// all add into their shared kv head). Only the causally visible part of each query block is multiplied
/// (the probabilities are exactly 0 elsewhere).
///
/// Threading: as `attentionForward` (pairs of (batch, kv head) on `kernelThreads()` threads).
/// - Parameters:
///   - dq: `[B*Tq, H*D]`, accumulated.
///   - dk, dv: `[B, Tk, G*D]` (batch stride `shape.keyBatchStride`), accumulated.
///   - scratch: `[Tq, Tk]` workspace, overwritten (the first thread's workspace; others allocate theirs).
///   - dout: `[B*Tq, H*D]`; probs: `[B, H, Tq, Tk]` from forward; q, k, v as in forward.
public func attentionBackward(dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
                              scratch: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, probs: UnsafePointer<Float>,
                              q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, shape s: AttentionShape) {
    let tq = s.queryLength, tk = s.keyLength, d = s.headDim
    let qStride = s.heads * d, kvStride = s.kvHeads * d, group = s.heads / s.kvHeads
    let offset = tk - tq
    let scale = 1 / Float(d).squareRoot()
    let items = s.batch * s.kvHeads
    let workers = min(kernelThreads(), items)
    let scratchCount = min(tq, attentionBlock) * tk
    let extra = UnsafeMutablePointer<Float>.allocate(capacity: max(1, (workers - 1) * scratchCount))
    defer { extra.deallocate() }
    parallelItems(items) { w, item in
        let ds = w == 0 ? scratch : extra + (w - 1) * scratchCount
        let b = item / s.kvHeads, g = item % s.kvHeads
        let kvOff = b * s.keyBatchStride + g * d
        for h in (g * group)..<((g + 1) * group) {
            let p = probs + ((b * s.heads + h) * tq) * tk
            let qOff = b * tq * qStride + h * d
            var i0 = 0
            while i0 < tq {
                let i1 = min(tq, i0 + attentionBlock), rows = i1 - i0
                let kv = offset + i1
                let pBlock = p + i0 * tk, doutBlock = dout + qOff + i0 * qStride
                // dP[rows, kv] = dout_bh · v_bh^T
                sgemm(transA: false, transB: true, m: rows, n: kv, k: d, alpha: 1, a: doutBlock, lda: qStride,
                      b: v + kvOff, ldb: kvStride, beta: 0, c: ds, ldc: tk)
                // dv_bh[kv, D] += P^T · dout_bh
                sgemm(transA: true, transB: false, m: kv, n: d, k: rows, alpha: 1, a: pBlock, lda: tk,
                      b: doutBlock, ldb: qStride, beta: 1, c: dv + kvOff, ldc: kvStride)
                // dS = P * (dP - sum_j P dP)   (softmax backward, in place)
                for i in 0..<rows { softmaxBackwardRow(ds + i * tk, probs: pBlock + i * tk, count: kv) }
                // dq_bh[rows, D] += scale * dS · k_bh ; dk_bh[kv, D] += scale * dS^T · q_bh
                sgemm(transA: false, transB: false, m: rows, n: d, k: kv, alpha: scale, a: ds, lda: tk,
                      b: k + kvOff, ldb: kvStride, beta: 1, c: dq + qOff + i0 * qStride, ldc: qStride)
                sgemm(transA: true, transB: false, m: kv, n: d, k: rows, alpha: scale, a: ds, lda: tk,
                      b: q + qOff + i0 * qStride, ldb: qStride, beta: 1, c: dk + kvOff, ldc: kvStride)
                i0 = i1
            }
        }
    }
}
