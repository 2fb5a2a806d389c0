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
    for n in 0..<rows {
        let x = inp + n * channels, y = out + n * channels
        var ss: Float = 0
        for c in 0..<channels { ss += x[c] * x[c] }
        let r = 1 / (ss / Float(channels) + eps).squareRoot()
        rstd[n] = r
        for c in 0..<channels { y[c] = weight[c] * (x[c] * r) }
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
    for n in 0..<rows {
        let x = inp + n * channels, dy = dout + n * channels, dx = dinp + n * channels
        let r = rstd[n]
        var dot: Float = 0
        for c in 0..<channels { dot += weight[c] * dy[c] * x[c] }
        let k = r * r * r * dot / Float(channels)
        for c in 0..<channels { dx[c] += r * weight[c] * dy[c] - k * x[c] }
        if let dweight {
            for c in 0..<channels { dweight[c] += dy[c] * x[c] * r }
        }
    }
}
