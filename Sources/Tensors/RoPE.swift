// Rotary position embedding, Hugging Face "rotate half" convention (first half of each head paired
// with the second half), with an explicit position id per token.
//
// Legend: N = rows (B*T tokens), H = heads, D = head dim (even), P = D/2 frequency pairs.
// Threading: rows split over `kernelThreads()` (elementwise: bit-identical at any thread count).

import Foundation

// MARK: - RoPE

/// Fills the cos/sin tables for each token's position: `angle[n, i] = pos[n] * theta^(-2i/D)`.
/// Computed in Float32 exactly as HF `LlamaRotaryEmbedding` (default rope type, scaling 1).
/// - Parameters:
///   - cos, sin: `[N, P]`, written.
///   - positions: `[N]` position ids (>= 0).
///   - rows: N; headDim: D; theta: `rope_theta`.
/// - Source: Su et al. 2021, "RoFormer", section 3.4.2; HF `modeling_llama.py` (`rotate_half`).
public func ropeTables(cos: UnsafeMutablePointer<Float>, sin: UnsafeMutablePointer<Float>, positions: UnsafePointer<Int32>,
                       rows: Int, headDim: Int, theta: Float) {
    let p = headDim / 2
    var invFreq = [Float](repeating: 0, count: p)
    for i in 0..<p { invFreq[i] = 1 / powf(theta, Float(2 * i) / Float(headDim)) }
    invFreq.withUnsafeBufferPointer { inv in
        parallelRanges(rows, minPerThread: max(1, 4096 / max(1, p))) { range in
            for n in range {
                let pos = Float(positions[n])
                for i in 0..<p {
                    let a = pos * inv[i]
                    cos[n * p + i] = cosf(a)
                    sin[n * p + i] = sinf(a)
                }
            }
        }
    }
}

/// Rotates every head of every row in place: for `i < P`,
/// `x[i] <- x[i] cos - x[i+P] sin`, `x[i+P] <- x[i+P] cos + x[i] sin`.
/// - Parameters:
///   - x: `[N, H*D]` (row stride `rowStride`, default H*D), rotated in place.
///   - cos, sin: `[N, P]` from `ropeTables`.
public func ropeForward(x: UnsafeMutablePointer<Float>, cos: UnsafePointer<Float>, sin: UnsafePointer<Float>,
                        rows: Int, heads: Int, headDim: Int, rowStride: Int? = nil) {
    let p = headDim / 2, stride = rowStride ?? heads * headDim
    parallelRanges(rows, minPerThread: max(1, elementwiseMinPerThread / max(1, heads * headDim))) { range in
        for n in range {
            let c = cos + n * p, s = sin + n * p
            for h in 0..<heads {
                let v = x + n * stride + h * headDim
                for i in 0..<p {
                    let a = v[i], b = v[i + p]
                    v[i] = a * c[i] - b * s[i]
                    v[i + p] = b * c[i] + a * s[i]
                }
            }
        }
    }
}

/// Backward of `ropeForward`, in place: the gradient is rotated by the transpose (angle `-a`).
/// - Parameters:
///   - dx: `[N, H*D]`; on entry the gradient w.r.t. the rotated values, on exit w.r.t. the inputs.
///   - cos, sin: `[N, P]` from `ropeTables`.
public func ropeBackward(dx: UnsafeMutablePointer<Float>, cos: UnsafePointer<Float>, sin: UnsafePointer<Float>,
                         rows: Int, heads: Int, headDim: Int, rowStride: Int? = nil) {
    let p = headDim / 2, stride = rowStride ?? heads * headDim
    parallelRanges(rows, minPerThread: max(1, elementwiseMinPerThread / max(1, heads * headDim))) { range in
        for n in range {
            let c = cos + n * p, s = sin + n * p
            for h in 0..<heads {
                let v = dx + n * stride + h * headDim
                for i in 0..<p {
                    let a = v[i], b = v[i + p]
                    v[i] = a * c[i] + b * s[i]
                    v[i + p] = b * c[i] - a * s[i]
                }
            }
        }
    }
}
