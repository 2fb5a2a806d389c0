// Finite-difference helpers shared by the kernel tests.

import Tensors
import XCTest

/// Random Float array, normal(0, std), from a seeded generator.
func randomArray(_ count: Int, std: Double = 1, rng: inout Xoshiro256) -> [Float] {
    (0..<count).map { _ in Float(rng.nextNormal() * std) }
}

/// `sum(a * w)` in Double: the scalar objective whose gradient w.r.t. `a` is `w`.
func weightedSum(_ a: UnsafePointer<Float>, _ w: [Float]) -> Double {
    var s = 0.0
    for i in 0..<w.count { s += Double(a[i]) * Double(w[i]) }
    return s
}

/// Compares an analytic gradient with central differences of `objective` w.r.t. `x`.
///
/// `x` is perturbed in place (and restored). The error is norm-wise:
/// `||analytic - numeric|| / max(||numeric||, 1e-6) <= tolerance`, plus an element-wise bound so a
/// single wrong entry cannot hide in a large norm.
func assertGradient(_ name: String, x: UnsafeMutablePointer<Float>, count: Int, analytic: [Float], eps: Float = 1e-2,
                    tolerance: Double = 2e-3, objective: () -> Double, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(analytic.count, count, "\(name): gradient size", file: file, line: line)
    var diff2 = 0.0, ref2 = 0.0, maxRef = 0.0
    var numeric = [Double](repeating: 0, count: count)
    for i in 0..<count {
        let saved = x[i]
        x[i] = saved + eps
        let lp = objective()
        x[i] = saved - eps
        let lm = objective()
        x[i] = saved
        numeric[i] = (lp - lm) / Double(2 * eps)
        maxRef = max(maxRef, abs(numeric[i]))
    }
    var worst = 0.0
    for i in 0..<count {
        let d = Double(analytic[i]) - numeric[i]
        diff2 += d * d
        ref2 += numeric[i] * numeric[i]
        worst = max(worst, abs(d))
    }
    let rel = diff2.squareRoot() / max(ref2.squareRoot(), 1e-6)
    XCTAssertLessThanOrEqual(rel, tolerance, "\(name): relative gradient error \(rel)", file: file, line: line)
    XCTAssertLessThanOrEqual(worst, 10 * tolerance * max(maxRef, 1e-3), "\(name): worst element error \(worst)", file: file, line: line)
    XCTAssertGreaterThan(ref2, 0, "\(name): the numeric gradient is all zero, the check would be vacuous", file: file, line: line)
}
