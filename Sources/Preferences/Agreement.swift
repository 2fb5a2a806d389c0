// MARK: - Agreement statistics

/// Cohen's kappa of two raters over the same items: `(p_o - p_e) / (1 - p_e)`.
///
/// `p_o` is the observed agreement and `p_e = sum_k p1(k) p2(k)` the agreement expected from each rater's
/// marginal category frequencies. Worked example: ratings `[a,a,b,b]` vs `[a,b,b,b]`: p_o = 0.75,
/// p_e = 0.5*0.25 + 0.5*0.75 = 0.5, kappa = 0.5.
/// - Parameter pairs: one (rater 1, rater 2) category per shared item.
/// - Returns: kappa in [-1, 1]; `nil` for no items, or when `p_e == 1` (both raters used one same category).
/// - Source: Cohen 1960, "A coefficient of agreement for nominal scales"; matches `sklearn.metrics.cohen_kappa_score`.
public func cohensKappa<C: Hashable>(_ pairs: [(C, C)]) -> Double? {
    guard !pairs.isEmpty else { return nil }
    let n = Double(pairs.count)
    var agree = 0.0
    var m1: [C: Double] = [:], m2: [C: Double] = [:]
    for (x, y) in pairs {
        if x == y { agree += 1 }
        m1[x, default: 0] += 1
        m2[y, default: 0] += 1
    }
    let po = agree / n
    let pe = m1.reduce(0.0) { $0 + ($1.value / n) * ((m2[$1.key] ?? 0) / n) }
    guard pe < 1 else { return nil }
    return (po - pe) / (1 - pe)
}

/// Fleiss' kappa over items rated by several raters: `(P̄ - P̄_e) / (1 - P̄_e)`.
///
/// `counts[i][k]` is how many raters put item `i` in category `k`. With `n_i` ratings of item `i`,
/// `P_i = (sum_k counts[i][k]^2 - n_i) / (n_i (n_i - 1))`, `P̄` their mean, `p_k` the share of all ratings in
/// category `k`, `P̄_e = sum_k p_k^2`. Items with fewer than 2 ratings are ignored. With the same `n` for every
/// item this is exactly Fleiss (1971); with varying `n_i` it is the usual per-item generalisation.
/// - Parameter counts: `[items][categories]` rating counts.
/// - Returns: kappa; `nil` when fewer than one item has 2+ ratings or `P̄_e == 1`.
/// - Source: Fleiss 1971, "Measuring nominal scale agreement among many raters"; matches
///   `statsmodels.stats.inter_rater.fleiss_kappa` for constant `n`.
public func fleissKappa(_ counts: [[Int]]) -> Double? {
    let items = counts.filter { $0.reduce(0, +) >= 2 }
    guard !items.isEmpty, let k = items.first?.count else { return nil }
    var categoryTotals = [Double](repeating: 0, count: k)
    var total = 0.0
    var sumP = 0.0
    for row in items {
        let n = Double(row.reduce(0, +))
        var squares = 0.0
        for (j, c) in row.enumerated() {
            squares += Double(c * c)
            categoryTotals[j] += Double(c)
        }
        total += n
        sumP += (squares - n) / (n * (n - 1))
    }
    let pBar = sumP / Double(items.count)
    let pe = categoryTotals.reduce(0.0) { $0 + ($1 / total) * ($1 / total) }
    guard pe < 1 else { return nil }
    return (pBar - pe) / (1 - pe)
}
