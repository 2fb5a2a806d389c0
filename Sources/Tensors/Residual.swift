// Residual connection: out = a + b, backward passes the gradient to both branches.
//
// Threading: elementwise, split over `kernelThreads()` in contiguous ranges (no sums: bit-identical at any
// thread count).

// MARK: - Residual

/// Elements per thread below which the elementwise kernels stay on one thread.
let elementwiseMinPerThread = 32_768

/// `out = a + b` elementwise (out may alias a or b).
/// - Parameters: out, a, b: `[N, C]` (count elements).
public func residualForward(out: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, count: Int) {
    parallelRanges(count, minPerThread: elementwiseMinPerThread) { r in
        var i = r.lowerBound
        while i + vectorWidth <= r.upperBound { store16(load16(a + i) + load16(b + i), out + i); i += vectorWidth }
        while i < r.upperBound { out[i] = a[i] + b[i]; i += 1 }
    }
}

/// Backward of `residualForward`: `da += dout`, `db += dout`.
/// - Parameters: da, db: accumulated, dout: `[N, C]` (count elements).
public func residualBackward(da: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, count: Int) {
    parallelRanges(count, minPerThread: elementwiseMinPerThread) { r in
        for i in r {
            da[i] += dout[i]
            db[i] += dout[i]
        }
    }
}

/// `y += x` elementwise (the accumulate used by every backward pass).
/// - Parameters: y: accumulated; x: same count.
public func accumulate(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
    parallelRanges(count, minPerThread: elementwiseMinPerThread) { r in
        var i = r.lowerBound
        while i + vectorWidth <= r.upperBound { store16(load16(y + i) + load16(x + i), y + i); i += vectorWidth }
        while i < r.upperBound { y[i] += x[i]; i += 1 }
    }
}
