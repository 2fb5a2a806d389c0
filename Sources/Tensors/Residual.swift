// Residual connection: out = a + b, backward passes the gradient to both branches.

// MARK: - Residual

/// `out = a + b` elementwise (out may alias a or b).
/// - Parameters: out, a, b: `[N, C]` (count elements).
public func residualForward(out: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, count: Int) {
    for i in 0..<count { out[i] = a[i] + b[i] }
}

/// Backward of `residualForward`: `da += dout`, `db += dout`.
/// - Parameters: da, db: accumulated, dout: `[N, C]` (count elements).
public func residualBackward(da: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, count: Int) {
    for i in 0..<count {
        da[i] += dout[i]
        db[i] += dout[i]
    }
}

/// `y += x` elementwise (the accumulate used by every backward pass).
/// - Parameters: y: accumulated; x: same count.
public func accumulate(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
    for i in 0..<count { y[i] += x[i] }
}
