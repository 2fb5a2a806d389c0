// Causal scaled dot-product attention with grouped-query heads and a key padding mask, one sgemm per
// (batch, head) for the scores and one for the values.
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

/// Causal GQA attention: `out = softmax(q k^T / sqrt(D) + mask) v` per (batch, head), softmax in fp32.
///
/// Key j is visible to query i when `j <= Tk - Tq + i` and `keyMask[b, j] != 0`. Masked scores get
/// probability exactly 0 (as HF's additive `finfo.min` mask does after `exp`). A query that sees no key at
/// all (a left-padding query) gets all-zero probabilities and a zero output row, never NaN (as torch
/// SDPA, transformers' default attention, does; HF eager would average all keys uniformly there).
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
    for b in 0..<s.batch {
        for h in 0..<s.heads {
            let p = probs + ((b * s.heads + h) * tq) * tk
            let qb = q + b * tq * qStride + h * d
            let kb = k + b * s.keyBatchStride + (h / group) * d
            let vb = v + b * s.keyBatchStride + (h / group) * d
            // scores[Tq, Tk] = q_bh[Tq, D] · k_bh[Tk, D]^T * scale
            sgemm(transA: false, transB: true, m: tq, n: tk, k: d, alpha: scale, a: qb, lda: qStride,
                  b: kb, ldb: kvStride, beta: 0, c: p, ldc: tk)
            for i in 0..<tq {
                let row = p + i * tk
                let last = offset + i  // last visible key index
                var m = -Float.infinity
                for j in 0...last where keyMask == nil || keyMask![b * tk + j] != 0 { m = max(m, row[j]) }
                if m == -Float.infinity {
                    for j in 0..<tk { row[j] = 0 }
                    continue
                }
                var sum: Float = 0
                for j in 0..<tk {
                    if j <= last && (keyMask == nil || keyMask![b * tk + j] != 0) {
                        let e = expf(row[j] - m)
                        row[j] = e
                        sum += e
                    } else {
                        row[j] = 0
                    }
                }
                let inv = 1 / sum
                for j in 0...last { row[j] *= inv }
            }
            // out_bh[Tq, D] = probs[Tq, Tk] · v_bh[Tk, D]
            sgemm(transA: false, transB: false, m: tq, n: d, k: tk, alpha: 1, a: p, lda: tk,
                  b: vb, ldb: kvStride, beta: 0, c: out + b * tq * qStride + h * d, ldc: qStride)
        }
    }
}

/// Backward of `attentionForward`; *adds* into `dq`, `dk`, `dv` (GQA: the H/G query heads of a group
/// all add into their shared kv head).
/// - Parameters:
///   - dq: `[B*Tq, H*D]`, accumulated.
///   - dk, dv: `[B, Tk, G*D]` (batch stride `shape.keyBatchStride`), accumulated.
///   - scratch: `[Tq, Tk]` workspace, overwritten.
///   - dout: `[B*Tq, H*D]`; probs: `[B, H, Tq, Tk]` from forward; q, k, v as in forward.
public func attentionBackward(dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
                              scratch: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, probs: UnsafePointer<Float>,
                              q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, shape s: AttentionShape) {
    let tq = s.queryLength, tk = s.keyLength, d = s.headDim
    let qStride = s.heads * d, kvStride = s.kvHeads * d, group = s.heads / s.kvHeads
    let scale = 1 / Float(d).squareRoot()
    for b in 0..<s.batch {
        for h in 0..<s.heads {
            let p = probs + ((b * s.heads + h) * tq) * tk
            let kvOff = b * s.keyBatchStride + (h / group) * d
            let qOff = b * tq * qStride + h * d
            // dP[Tq, Tk] = dout_bh · v_bh^T
            sgemm(transA: false, transB: true, m: tq, n: tk, k: d, alpha: 1, a: dout + qOff, lda: qStride,
                  b: v + kvOff, ldb: kvStride, beta: 0, c: scratch, ldc: tk)
            // dv_bh[Tk, D] += P^T · dout_bh
            sgemm(transA: true, transB: false, m: tk, n: d, k: tq, alpha: 1, a: p, lda: tk,
                  b: dout + qOff, ldb: qStride, beta: 1, c: dv + kvOff, ldc: kvStride)
            // dS = P * (dP - sum_j P dP)   (softmax backward, in place in scratch)
            for i in 0..<tq {
                let pr = p + i * tk, ds = scratch + i * tk
                var dot: Float = 0
                for j in 0..<tk { dot += pr[j] * ds[j] }
                for j in 0..<tk { ds[j] = pr[j] * (ds[j] - dot) }
            }
            // dq_bh[Tq, D] += scale * dS · k_bh ; dk_bh[Tk, D] += scale * dS^T · q_bh
            sgemm(transA: false, transB: false, m: tq, n: d, k: tk, alpha: scale, a: scratch, lda: tk,
                  b: k + kvOff, ldb: kvStride, beta: 1, c: dq + qOff, ldc: qStride)
            sgemm(transA: true, transB: false, m: tk, n: d, k: tq, alpha: scale, a: scratch, lda: tk,
                  b: q + qOff, ldb: qStride, beta: 1, c: dk + kvOff, ldc: kvStride)
        }
    }
}
