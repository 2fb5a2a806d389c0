// A stage's metric curves as a table by step: the text form of `rlhf report`'s charts
// (what TensorBoard's scalars tab or W&B's `run.history()` give for `objective/kl`, `eval/kl`, ...).

// MARK: - Metric history

/// Several metrics of one stage run side by side, one row per step (the union of their steps).
///
/// Built from the points of `PipelineStore.metrics(stageRunID:)`; when a step of a metric was logged
/// more than once (a stage resumed from a checkpoint repeats the steps after it), the last point wins.
public struct MetricHistory: Equatable, Sendable {
    /// One step: the value of each of `names` at that step, nil where the metric has no point.
    public struct Row: Equatable, Sendable {
        public var step: Int
        public var values: [Double?]

        public init(step: Int, values: [Double?]) {
            self.step = step
            self.values = values
        }
    }

    /// The selected metric names (columns), in the order the patterns named them.
    public var names: [String]
    /// Rows by increasing step.
    public var rows: [Row]

    public init(names: [String], rows: [Row]) {
        self.names = names
        self.rows = rows
    }

    /// Selects metrics by name and lays their points out by step.
    /// - Parameters:
    ///   - metrics: the points of one stage run (any order; for equal name and step, later ones win).
    ///   - patterns: metric names, or prefixes ending in `*` (`eval/*`); empty selects every metric.
    ///     Columns follow the patterns' order; names matched by one prefix are sorted.
    /// - Returns: the table (no rows when `metrics` is empty and `patterns` is empty).
    /// - Throws: `PipelineError.notFound` naming a pattern that matches no metric, with the names available.
    public static func select(_ metrics: [MetricRecord], names patterns: [String]) throws -> MetricHistory {
        let available = Array(Set(metrics.map(\.name))).sorted()
        var names: [String] = []
        for pattern in patterns.isEmpty ? ["*"] : patterns {
            let matched: [String]
            if pattern.hasSuffix("*") {
                let prefix = String(pattern.dropLast())
                matched = available.filter { $0.hasPrefix(prefix) }
            } else {
                matched = available.contains(pattern) ? [pattern] : []
            }
            if matched.isEmpty && !patterns.isEmpty {
                throw PipelineError.notFound(what: "metric '\(pattern)'",
                                             fix: "this stage has: \(available.isEmpty ? "no metrics" : available.joined(separator: ", "))")
            }
            for n in matched where !names.contains(n) { names.append(n) }
        }
        let column = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        var byStep: [Int: [Double?]] = [:]
        for m in metrics {
            guard let c = column[m.name] else { continue }
            byStep[m.step, default: [Double?](repeating: nil, count: names.count)][c] = m.value
        }
        return MetricHistory(names: names, rows: byStep.keys.sorted().map { Row(step: $0, values: byStep[$0]!) })
    }

    /// The table as CSV (`step,name1,name2`; an empty cell where a metric has no point at that step;
    /// values in the shortest form that reads back exactly).
    public var csv: String {
        var out = (["step"] + names.map(Self.csvField)).joined(separator: ",") + "\n"
        for r in rows {
            out += ([String(r.step)] + r.values.map { $0.map { String($0) } ?? "" }).joined(separator: ",") + "\n"
        }
        return out
    }

    static func csvField(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
