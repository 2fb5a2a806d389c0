// The forward pass of incremental decoding: append tokens to a KV cache and compute their logits, with
// exactly the math of `LlamaModel.forward` (same kernels, same RoPE positions, same masking).
//
// Legend: B batch, Tq tokens appended per row, Tk = cache length after appending, Tmax capacity,
// N = B*Tq, C hidden_size, F intermediate_size, V vocab_size, H heads, G kv heads, D head_dim.

import CBLAS
import Foundation
import Tensors

// MARK: - Cached forward

extension LlamaModel {
    /// Appends `Tq` tokens per row to `cache` and returns their next-token logits (side effects: writes
    /// the new keys/values, mask and positions into `cache`; overwrites the returned tensor of the previous
    /// call on this cache). Does not touch the activations `backward` uses.
    ///
    /// Position ids continue each row's count of real tokens (`cumsum(mask) - 1`, as Hugging Face
    /// `generate` computes them), so a left-padded row decodes exactly as it would alone.
    /// - Parameters:
    ///   - tokens: `[B*Tq]` row-major token ids, each in `0..<V`.
    ///   - queryLength: Tq >= 1 (the prompt length for the prefill, 1 for a decoding step).
    ///   - attentionMask: `[B*Tq]`, 1 real token, 0 padding; nil means all real.
    ///   - cache: the rows' cache (created for this model's config and B rows).
    ///   - allLogits: true returns logits `[B*Tq, V]` for every appended token; false returns `[B, V]`
    ///     for the last appended token of each row only (what generation samples from).
    /// - Returns: a view of the logits, owned by `cache`, valid until its next forward.
    /// - Throws: `LlamaError.invalidInput` when sizes disagree, a token id is outside the vocabulary,
    ///   the cache is full (`length + Tq > capacity`) or `Tq > cache.maxQueryLength`.
    public func forward(appending tokens: [Int32], queryLength tq: Int, attentionMask: [UInt8]? = nil,
                        cache: LlamaKVCache, allLogits: Bool = false) throws -> Tensor {
        let cfg = config, b = cache.batch, n = b * tq
        guard cache.config == cfg else { throw LlamaError.invalidInput("the KV cache was created for another model config") }
        guard tq >= 1, tq <= cache.maxQueryLength else {
            throw LlamaError.invalidInput("queryLength \(tq) must be in 1...\(cache.maxQueryLength) (the cache's maxQueryLength)")
        }
        guard cache.length + tq <= cache.capacity else {
            throw LlamaError.invalidInput("KV cache full: \(cache.length) + \(tq) tokens exceed its capacity \(cache.capacity)")
        }
        guard tokens.count == n else { throw LlamaError.invalidInput("\(tokens.count) tokens for batch \(b) x queryLength \(tq)") }
        if let i = tokens.firstIndex(where: { $0 < 0 || Int($0) >= cfg.vocabSize }) {
            throw LlamaError.invalidInput("token id \(tokens[i]) at index \(i) is outside the vocabulary [0, \(cfg.vocabSize))")
        }
        if let m = attentionMask, m.count != n {
            throw LlamaError.invalidInput("attentionMask has \(m.count) entries, expected \(n)")
        }

        let w = cache.work
        let c = cfg.hiddenSize, f = cfg.intermediateSize, d = cfg.headDim
        let h = cfg.numAttentionHeads, g = cfg.numKeyValueHeads, kvd = g * d
        let start = cache.length
        withOptionalPointer(attentionMask) { m in
            w.positions.withUnsafeMutableBufferPointer { cache.append(queryLength: tq, attentionMask: m, positions: $0.baseAddress!) }
        }
        let tk = cache.length
        // cos/sin rows of each token's position, copied from the tables computed once for 0..<Tmax.
        let half = d / 2
        for r in 0..<n {
            let pos = Int(w.positions[r])
            (w.cos.data + r * half).update(from: w.ropeCos.data + pos * half, count: half)
            (w.sin.data + r * half).update(from: w.ropeSin.data + pos * half, count: half)
        }
        tokens.withUnsafeBufferPointer {
            embeddingForward(out: w.x.data, tokens: $0.baseAddress!, weight: embedTokens.value.data, rows: n, channels: c)
        }
        cache.mask.withUnsafeBufferPointer { maskPtr in
            for (li, layer) in layers.enumerated() {
                rmsNormForward(out: w.ln.data, rstd: w.rstd.data, inp: w.x.data, weight: layer.inputLayernorm.value.data,
                               rows: n, channels: c, eps: cfg.rmsNormEps)
                project(layer.qProj, out: w.q.data, inp: w.ln.data, rows: n)
                project(layer.kProj, out: w.k.data, inp: w.ln.data, rows: n)
                project(layer.vProj, out: w.v.data, inp: w.ln.data, rows: n)
                ropeForward(x: w.q.data, cos: w.cos.data, sin: w.sin.data, rows: n, heads: h, headDim: d)
                ropeForward(x: w.k.data, cos: w.cos.data, sin: w.sin.data, rows: n, heads: g, headDim: d)
                let kc = cache.keys[li].data, vc = cache.values[li].data
                for bi in 0..<b {
                    let dst = (bi * cache.capacity + start) * kvd
                    (kc + dst).update(from: w.k.data + bi * tq * kvd, count: tq * kvd)
                    (vc + dst).update(from: w.v.data + bi * tq * kvd, count: tq * kvd)
                }
                if tq == 1 {
                    decodeAttentionForward(out: w.attn.data, scores: w.decodeScores.data, q: w.q.data, kCache: kc, vCache: vc,
                                           keyMask: maskPtr.baseAddress!, batch: b, keyLength: tk, capacity: cache.capacity,
                                           heads: h, kvHeads: g, headDim: d)
                } else {
                    cachedAttentionForward(out: w.attn.data, scores: w.scores.data, q: w.q.data, kCache: kc, vCache: vc,
                                           keyMask: maskPtr.baseAddress!, batch: b, queryLength: tq, keyLength: tk,
                                           capacity: cache.capacity, heads: h, kvHeads: g, headDim: d)
                }
                project(layer.oProj, out: w.scratch.data, inp: w.attn.data, rows: n)
                residualForward(out: w.x.data, a: w.x.data, b: w.scratch.data, count: n * c)
                rmsNormForward(out: w.ln.data, rstd: w.rstd.data, inp: w.x.data,
                               weight: layer.postAttentionLayernorm.value.data, rows: n, channels: c, eps: cfg.rmsNormEps)
                project(layer.gateProj, out: w.gate.data, inp: w.ln.data, rows: n)
                project(layer.upProj, out: w.up.data, inp: w.ln.data, rows: n)
                swigluForward(out: w.gate.data, gate: w.gate.data, up: w.up.data, count: n * f)
                project(layer.downProj, out: w.scratch.data, inp: w.gate.data, rows: n)
                residualForward(out: w.x.data, a: w.x.data, b: w.scratch.data, count: n * c)
            }
        }
        // Final norm and lm_head, on every row or on each row's last appended token only.
        let hidden: UnsafeMutablePointer<Float>, out: Tensor, rows: Int
        if allLogits {
            rmsNormForward(out: w.ln.data, rstd: w.rstd.data, inp: w.x.data, weight: norm.value.data,
                           rows: n, channels: c, eps: cfg.rmsNormEps)
            if w.allLogits == nil { w.allLogits = Tensor(shape: [cache.batch * cache.maxQueryLength, cfg.vocabSize]) }
            hidden = w.ln.data; rows = n
            out = w.allLogits!.view(shape: [n, cfg.vocabSize])
        } else {
            for bi in 0..<b {
                rmsNormForward(out: w.lastHidden.data + bi * c, rstd: w.lastRstd.data + bi, inp: w.x.data + (bi * tq + tq - 1) * c,
                               weight: norm.value.data, rows: 1, channels: c, eps: cfg.rmsNormEps)
            }
            hidden = w.lastHidden.data; rows = b
            out = w.lastLogits
        }
        if let lmHead {
            project(lmHead, out: out.data, inp: hidden, rows: rows)
        } else {
            matmulTransposed(out: out.data, inp: hidden, weight: embedTokens.value.data, rows: rows, inFeatures: c, outFeatures: cfg.vocabSize)
        }
        return out
    }

    /// `linear` applied to `rows` rows; one row goes through `sgemv` (OpenBLAS's sgemm has no fast path
    /// for M = 1), then the enabled adapter adds its output exactly as `Linear.forward` does.
    @inline(__always)
    private func project(_ linear: Linear, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, rows: Int) {
        matmulTransposed(out: out, inp: inp, weight: linear.weight.value.data, rows: rows,
                         inFeatures: linear.inFeatures, outFeatures: linear.outFeatures)
        if let adapter = linear.adapter, adapter.isEnabled { adapter.forward(out: out, inp: inp, rows: rows) }
    }
}

/// `out[N, O] = inp[N, I] · weight[O, I]^T`, with `sgemv` when N == 1.
@inline(__always)
func matmulTransposed(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                      rows: Int, inFeatures: Int, outFeatures: Int) {
    if rows == 1 {
        sgemv(m: outFeatures, n: inFeatures, a: weight, lda: inFeatures, x: inp, y: out)
    } else {
        linearForward(out: out, inp: inp, weight: weight, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
    }
}

// MARK: - Attention over the cache

/// Causal GQA attention of `Tq` new queries per row over the row's `Tk` cached keys, with the masking and
/// softmax of `attentionForward` (key j visible to query i when `j <= Tk - Tq + i` and `keyMask[b, j]`;
/// a query that sees no key gets a zero output). Used for Tq > 1 (the prefill); one query per row goes
/// through `decodeAttentionForward`.
/// - Parameters:
///   - out: `[B*Tq, H*D]`, written.
///   - scores: `[Tq, Tk]` workspace.
///   - q: `[B*Tq, H*D]` after RoPE.
///   - kCache, vCache: `[B, Tmax, G*D]`, the first Tk slots filled.
///   - keyMask: `[B, Tmax]`.
/// - Source: Vaswani et al. 2017, section 3.2.1; Ainslie et al. 2023 (GQA).
func cachedAttentionForward(out: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>,
                            kCache: UnsafePointer<Float>, vCache: UnsafePointer<Float>, keyMask: UnsafePointer<UInt8>,
                            batch: Int, queryLength tq: Int, keyLength tk: Int, capacity: Int,
                            heads: Int, kvHeads: Int, headDim d: Int) {
    let qStride = heads * d, kvStride = kvHeads * d, group = heads / kvHeads
    let offset = tk - tq
    let scale = 1 / Float(d).squareRoot()
    for b in 0..<batch {
        let mrow = keyMask + b * capacity
        for h in 0..<heads {
            let qb = q + b * tq * qStride + h * d
            let kb = kCache + b * capacity * kvStride + (h / group) * d
            let vb = vCache + b * capacity * kvStride + (h / group) * d
            let ob = out + b * tq * qStride + h * d
            // scores[Tq, Tk] = q_bh · k_bh^T * scale
            sgemm(transA: false, transB: true, m: tq, n: tk, k: d, alpha: scale, a: qb, lda: qStride,
                  b: kb, ldb: kvStride, beta: 0, c: scores, ldc: tk)
            for i in 0..<tq {
                let row = scores + i * tk
                let last = offset + i
                var m = -Float.infinity
                for j in 0...last where mrow[j] != 0 { m = max(m, row[j]) }
                if m == -Float.infinity {
                    for j in 0..<tk { row[j] = 0 }
                    continue
                }
                var sum: Float = 0
                for j in 0..<tk {
                    if j <= last && mrow[j] != 0 {
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
            // out_bh[Tq, D] = P[Tq, Tk] · v_bh[Tk, D]
            sgemm(transA: false, transB: false, m: tq, n: d, k: tk, alpha: 1, a: scores, lda: tk,
                  b: vb, ldb: kvStride, beta: 0, c: ob, ldc: qStride)
        }
    }
}
