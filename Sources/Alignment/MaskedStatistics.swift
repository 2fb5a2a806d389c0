// Masked mean, variance and whitening, as TRL's `masked_mean`, `masked_var`, `masked_whiten`.

/// Mean of `values` where `mask` is true (all elements when `mask` is nil); sums in Double.
/// Source: TRL `trl/core.py` `masked_mean` (no axis).
/// - Parameters:
///   - values: `[N]` (any flat shape).
///   - mask: `[N]`, true for elements that count.
/// - Throws: `AlignmentError.emptyBatch` when no element counts.
public func maskedMean(_ values: [Float], mask: [Bool]?) throws -> Double {
    precondition(mask == nil || mask!.count == values.count, "mask must match values")
    var s = 0.0, n = 0
    for i in values.indices where mask?[i] ?? true { s += Double(values[i]); n += 1 }
    guard n > 0 else { throw AlignmentError.emptyBatch("a masked mean") }
    return s / Double(n)
}

/// Variance of `values` where `mask` is true: `mean((x - mean)^2)`, times the Bessel correction
/// `n / (n - 1)` when `unbiased` (TRL's default).
/// Source: TRL `trl/core.py` `masked_var`.
/// - Throws: `AlignmentError.emptyBatch` when no element counts; `AlignmentError.tooFewElementsForVariance`
///   when `unbiased` and only one element counts (TRL raises there too).
public func maskedVariance(_ values: [Float], mask: [Bool]?, unbiased: Bool = true) throws -> Double {
    let mean = try maskedMean(values, mask: mask)
    var s = 0.0, n = 0
    for i in values.indices where mask?[i] ?? true {
        let d = Double(values[i]) - mean
        s += d * d; n += 1
    }
    var v = s / Double(n)
    if unbiased {
        guard n > 1 else { throw AlignmentError.tooFewElementsForVariance(count: n, what: "values") }
        v *= Double(n) / Double(n - 1)
    }
    return v
}

/// Whitens `values` with the statistics of its masked elements: `(x - mean) / sqrt(var + 1e-8)`
/// (unbiased `var`), then adds `mean` back when `shiftMean` is false. Elements outside the mask are
/// set to 0 (as TRL's PPOv2 trainer does with `masked_fill` after whitening).
///
/// Source: TRL `trl/core.py` `masked_whiten`; used for advantages (`shiftMean: true`) and, with
/// `whiten_rewards`, for rewards (`shiftMean: false`).
/// - Parameters:
///   - values: `[N]`.
///   - mask: `[N]`, or nil for all.
///   - shiftMean: subtract the mean (true) or keep it (false).
/// - Returns: `[N]`.
/// - Throws: as `maskedVariance` (fewer than 2 masked elements).
public func maskedWhiten(_ values: [Float], mask: [Bool]?, shiftMean: Bool = true) throws -> [Float] {
    let mean = try maskedMean(values, mask: mask)
    let variance = try maskedVariance(values, mask: mask, unbiased: true)
    let inv = 1 / (variance + 1e-8).squareRoot()
    var out = [Float](repeating: 0, count: values.count)
    for i in values.indices where mask?[i] ?? true {
        var w = (Double(values[i]) - mean) * inv
        if !shiftMean { w += mean }
        out[i] = Float(w)
    }
    return out
}
