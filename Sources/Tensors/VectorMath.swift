// Vectorised building blocks of the elementwise kernels: 16-lane loads/stores, exp, reductions.
// Portable Swift SIMD types (no CPU-specific flags): LLVM lowers them to whatever vector unit the
// target has (SSE on baseline x86_64, NEON on arm64).

import Foundation

// MARK: - Loads and stores

/// Lanes per vector of the kernels.
let vectorWidth = 16

@inline(__always)
func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always)
func store16(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

// MARK: - exp

/// `exp(x)` for 16 lanes, relative error below 2e-7 (about 2 ulp) for x in [-87, 88]; inputs below -87.3
/// give about 1e-38 (not a denormal), inputs above 88.37 give +inf, NaN stays NaN.
/// Range reduction `x = n ln2 + r` (ln2 split in two for exactness), then a degree-6 polynomial for
/// `exp(r)` on `|r| <= ln2/2`, scaled by `2^n` through the exponent bits.
/// - Source: Cephes `expf` (S. Moshier), the same polynomial as in many SIMD math libraries.
@inline(__always)
func vexp(_ x0: SIMD16<Float>) -> SIMD16<Float> {
    let x = vmin(vmax(x0, SIMD16(repeating: -87.3365447505531)), SIMD16(repeating: 88.3762626647949))
    // Round x·log2(e) to the nearest integer with the 1.5·2^23 trick: its low mantissa bits are n.
    let magic = SIMD16<Float>(repeating: 12582912)
    let t = x * 1.44269504088896341 + magic
    let fx = t - magic
    let n = unsafeBitCast(t, to: SIMD16<Int32>.self) &- 0x4B40_0000
    var r = x - fx * 0.693359375
    r = r - fx * -2.12194440e-4
    let z = r * r
    var y = SIMD16<Float>(repeating: 1.9875691500e-4)
    y = y * r + 1.3981999507e-3
    y = y * r + 8.3334519073e-3
    y = y * r + 4.1665795894e-2
    y = y * r + 1.6666665459e-1
    y = y * r + 5.0000001201e-1
    y = y * z + r + 1
    let pow2n = unsafeBitCast((n &+ 127) &<< 23, to: SIMD16<Float>.self)
    return (y * pow2n).replacing(with: .infinity, where: x0 .> 88.3762626647949).replacing(with: x0, where: x0 .!= x0)
}

/// Lane-wise maximum through a compare and blend (the generic `pointwiseMax` goes lane by lane).
@inline(__always)
func vmax(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> { a.replacing(with: b, where: b .> a) }

/// Lane-wise minimum through a compare and blend.
@inline(__always)
func vmin(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> { a.replacing(with: b, where: b .< a) }

// MARK: - Reductions and row operations

/// The largest of `p[0..<count]` (-inf when count is 0).
@inline(__always)
func maxOf(_ p: UnsafePointer<Float>, count: Int) -> Float {
    var i = 0
    var m = -Float.infinity
    if count >= vectorWidth {
        var mv = SIMD16<Float>(repeating: -.infinity)
        while i + vectorWidth <= count { mv = vmax(mv, load16(p + i)); i += vectorWidth }
        m = mv.max()
    }
    while i < count { m = max(m, p[i]); i += 1 }
    return m
}

/// `p[j] = exp(p[j] - max)` for j in `0..<count`; returns the sum of the new values.
@inline(__always)
func expSubtractInPlace(_ p: UnsafeMutablePointer<Float>, count: Int, max m: Float) -> Float {
    var i = 0
    var acc = SIMD16<Float>(repeating: 0)
    while i + vectorWidth <= count {
        let e = vexp(load16(p + i) - m)
        store16(e, p + i)
        acc += e
        i += vectorWidth
    }
    var s = acc.sum()
    while i < count { let e = expf(p[i] - m); p[i] = e; s += e; i += 1 }
    return s
}

/// `p[j] *= factor` for j in `0..<count`.
@inline(__always)
func scaleInPlace(_ p: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
    var i = 0
    while i + vectorWidth <= count { store16(load16(p + i) * factor, p + i); i += vectorWidth }
    while i < count { p[i] *= factor; i += 1 }
}

/// `sum_j a[j] * b[j]` over `0..<count` (16 partial sums).
@inline(__always)
func dotProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    var i = 0
    var acc = SIMD16<Float>(repeating: 0)
    while i + vectorWidth <= count { acc += load16(a + i) * load16(b + i); i += vectorWidth }
    var s = acc.sum()
    while i < count { s += a[i] * b[i]; i += 1 }
    return s
}

/// Softmax backward of one row, in place: `ds[j] = p[j] * (ds[j] - sum_k p[k] ds[k])`, j in `0..<count`.
@inline(__always)
func softmaxBackwardRow(_ ds: UnsafeMutablePointer<Float>, probs p: UnsafePointer<Float>, count: Int) {
    let dot = dotProduct(p, ds, count: count)
    var i = 0
    while i + vectorWidth <= count { store16(load16(p + i) * (load16(ds + i) - dot), ds + i); i += vectorWidth }
    while i < count { ds[i] = p[i] * (ds[i] - dot); i += 1 }
}

/// `sum_j exp(p[j] - max)` over `0..<count`, in Double across the 16 lanes (each lane sums in Float).
@inline(__always)
func sumExpShifted(_ p: UnsafePointer<Float>, count: Int, max m: Float) -> Double {
    var i = 0
    var acc = SIMD16<Float>(repeating: 0)
    while i + vectorWidth <= count { acc += vexp(load16(p + i) - m); i += vectorWidth }
    var s = 0.0
    for l in 0..<vectorWidth { s += Double(acc[l]) }
    while i < count { s += Double(expf(p[i] - m)); i += 1 }
    return s
}

/// `y[j] += factor * exp(x[j] - max)` over `0..<count`.
@inline(__always)
func addScaledExpShifted(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int, max m: Float, factor: Float) {
    var i = 0
    while i + vectorWidth <= count { store16(load16(y + i) + factor * vexp(load16(x + i) - m), y + i); i += vectorWidth }
    while i < count { y[i] += factor * expf(x[i] - m); i += 1 }
}
