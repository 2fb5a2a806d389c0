// SiLU-gated linear unit of Llama's MLP: down_proj(silu(gate_proj(x)) * up_proj(x)).
//
// Legend: N = rows (B*T tokens), F = intermediate size.

import Foundation

// MARK: - SwiGLU

/// `out = silu(gate) * up` elementwise, `silu(x) = x * sigmoid(x)`. Overwrites `out`.
/// - Parameters:
///   - out: `[N, F]`, written; gate: `[N, F]`; up: `[N, F]`; count: N*F.
/// - Source: Shazeer 2020, "GLU Variants Improve Transformer", eq. 6 (SwiGLU with beta 1); HF `LlamaMLP`.
public func swigluForward(out: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int) {
    parallelRanges(count, minPerThread: 32_768) { r in
        var i = r.lowerBound
        while i + vectorWidth <= r.upperBound {
            let g = load16(gate + i)
            store16(g / (1 + vexp(-g)) * load16(up + i), out + i)
            i += vectorWidth
        }
        while i < r.upperBound {
            let g = gate[i]
            out[i] = g / (1 + expf(-g)) * up[i]
            i += 1
        }
    }
}

/// Backward of `swigluForward`; *adds* into `dgate` and `dup`.
/// - Parameters:
///   - dgate: `[N, F]`, accumulated: `dout * up * silu'(gate)`, `silu'(x) = s (1 + x (1 - s))`.
///   - dup: `[N, F]`, accumulated: `dout * silu(gate)`.
///   - dout, gate, up: `[N, F]`; count: N*F.
public func swigluBackward(dgate: UnsafeMutablePointer<Float>, dup: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                           gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int) {
    parallelRanges(count, minPerThread: 32_768) { r in
        var i = r.lowerBound
        while i + vectorWidth <= r.upperBound {
            let g = load16(gate + i), dy = load16(dout + i)
            let s = 1 / (1 + vexp(-g))
            store16(load16(dgate + i) + dy * load16(up + i) * s * (1 + g * (1 - s)), dgate + i)
            store16(load16(dup + i) + dy * g * s, dup + i)
            i += vectorWidth
        }
        while i < r.upperBound {
            let g = gate[i]
            let s = 1 / (1 + expf(-g))
            dgate[i] += dout[i] * up[i] * s * (1 + g * (1 - s))
            dup[i] += dout[i] * g * s
            i += 1
        }
    }
}
