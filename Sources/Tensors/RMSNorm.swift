// Root-mean-square layer norm (Llama's `LlamaRMSNorm`).
//
// Legend: N = rows (B*T tokens), C = channels.

import Foundation

// MARK: - RMSNorm

/// `out = weight * x / sqrt(mean(x^2) + eps)` per row; stores the reciprocal RMS for backward.
/// - Parameters:
///   - out: `[N, C]`, written.
///   - rstd: `[N]`, written: `1 / sqrt(mean(x^2) + eps)`.
///   - inp: `[N, C]`; weight: `[C]`.
///   - eps: `rms_norm_eps`.
/// - Source: Zhang & Sennrich 2019, "Root Mean Square Layer Normalization", eq. 4; HF `LlamaRMSNorm`
///   (variance in fp32, then `weight * hidden`).
public func rmsNormForward(out: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                           weight: UnsafePointer<Float>, rows: Int, channels: Int, eps: Float) {
    parallelRanges(rows, minPerThread: max(1, 16_384 / max(1, channels))) { range in
        for n in range {
            let x = inp + n * channels, y = out + n * channels
            let ss = dotProduct(x, x, count: channels)
            let r = 1 / (ss / Float(channels) + eps).squareRoot()
            rstd[n] = r
            var c = 0
            while c + vectorWidth <= channels { store16(load16(weight + c) * (load16(x + c) * r), y + c); c += vectorWidth }
            while c < channels { y[c] = weight[c] * (x[c] * r); c += 1 }
        }
    }
}

/// Backward of `rmsNormForward`; *adds* into `dinp` and `dweight` (nil `dweight` skips it).
/// - Parameters:
///   - dinp: `[N, C]`, accumulated.
///   - dweight: `[C]`, accumulated.
///   - dout: `[N, C]`; inp: `[N, C]`; weight: `[C]`; rstd: `[N]` from forward.
/// - Note: with `g = weight * dout`, `dx = r * g - r^3 / C * x * sum(g * x)`.
public func rmsNormBackward(dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>?,
                            dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                            rstd: UnsafePointer<Float>, rows: Int, channels: Int) {
    parallelRanges(rows, minPerThread: max(1, 16_384 / max(1, channels))) { range in
        for n in range {
            let x = inp + n * channels, dy = dout + n * channels, dx = dinp + n * channels
            let r = rstd[n]
            var c = 0
            var acc = SIMD16<Float>(repeating: 0)
            while c + vectorWidth <= channels { acc += load16(weight + c) * load16(dy + c) * load16(x + c); c += vectorWidth }
            var dot = acc.sum()
            while c < channels { dot += weight[c] * dy[c] * x[c]; c += 1 }
            let k = r * r * r * dot / Float(channels)
            c = 0
            while c + vectorWidth <= channels {
                store16(load16(dx + c) + (r * load16(weight + c) * load16(dy + c) - k * load16(x + c)), dx + c)
                c += vectorWidth
            }
            while c < channels { dx[c] += r * weight[c] * dy[c] - k * x[c]; c += 1 }
        }
    }
    // dweight sums over rows: threads own channel blocks and add the rows in order 0..<N (the same sum
    // at any thread count), vectorised over channels.
    if let dweight {
        let blocks = (channels + vectorWidth - 1) / vectorWidth
        parallelRanges(blocks, minPerThread: max(1, 16_384 / max(1, rows * vectorWidth))) { range in
            let c0 = range.lowerBound * vectorWidth, c1 = min(channels, range.upperBound * vectorWidth)
            for n in 0..<rows {
                let x = inp + n * channels, dy = dout + n * channels
                let r = rstd[n]
                var c = c0
                while c + vectorWidth <= c1 { store16(load16(dweight + c) + load16(dy + c) * load16(x + c) * r, dweight + c); c += vectorWidth }
                while c < c1 { dweight[c] += dy[c] * x[c] * r; c += 1 }
            }
        }
    }
}
