// Metrics (a sink protocol) and the text lines the CLI prints or logs; libraries never print.
import Foundation
import JSONText

// MARK: - Sink

/// Receives scalar metrics by step, named as HF Trainer / TRL name them (`loss`, `eval_loss`,
/// `learning_rate`, `grad_norm`, `objective/kl`, ...). Implemented by the pipeline (SQLite), the CLI
/// (terminal) or tests (`InMemoryMetricsSink`).
public protocol MetricsSink: AnyObject {
    /// Records `value` of metric `name` at optimizer step `step` (side effect: stores or emits it).
    /// - Throws: whatever the sink's storage throws.
    func record(step: Int, name: String, value: Double) throws
}

extension MetricsSink {
    /// Records several metrics of one step, in key order (sorted, so the order is deterministic).
    public func record(step: Int, metrics: [String: Double]) throws {
        for key in metrics.keys.sorted() { try record(step: step, name: key, value: metrics[key]!) }
    }
}

/// A sink that keeps every record in memory (tests, small runs). Thread-safe.
public final class InMemoryMetricsSink: MetricsSink, @unchecked Sendable {
    /// One recorded value.
    public struct Record: Equatable, Sendable {
        public var step: Int
        public var name: String
        public var value: Double
    }

    private let lock = NSLock()
    private var storage: [Record] = []

    public init() {}

    public func record(step: Int, name: String, value: Double) {
        lock.lock(); defer { lock.unlock() }
        storage.append(Record(step: step, name: name, value: value))
    }

    /// All records, in arrival order.
    public var records: [Record] {
        lock.lock(); defer { lock.unlock() }
        return storage
    }

    /// `(step, value)` of one metric, in arrival order.
    public func series(_ name: String) -> [(step: Int, value: Double)] {
        records.filter { $0.name == name }.map { ($0.step, $0.value) }
    }
}

// MARK: - Terminal progress line

/// Formats the one-line terminal progress report:
/// `step 120/1000 | loss 3.4521 | lr 3.00e-04 | 12345 tok/s | ETA 4m12s`.
public struct ProgressLine: Equatable, Sendable {
    /// Steps completed.
    public var step: Int
    /// Total steps of the run.
    public var totalSteps: Int
    /// Latest training loss (nats/token), if known.
    public var loss: Double?
    /// Learning rate in force, if known.
    public var learningRate: Double?
    /// Throughput (tokens/second), if known.
    public var tokensPerSecond: Double?
    /// Wall time since the run (or the resume) started (seconds).
    public var elapsedSeconds: Double
    /// Steps already done when the timing started (0, or the resume step), so ETA uses this run's pace.
    public var startStep: Int

    public init(step: Int, totalSteps: Int, loss: Double? = nil, learningRate: Double? = nil,
                tokensPerSecond: Double? = nil, elapsedSeconds: Double, startStep: Int = 0) {
        self.step = step; self.totalSteps = totalSteps; self.loss = loss; self.learningRate = learningRate
        self.tokensPerSecond = tokensPerSecond; self.elapsedSeconds = elapsedSeconds; self.startStep = startStep
    }

    /// Estimated seconds left: `elapsed / (step - startStep) * (totalSteps - step)`; nil before the first step.
    public var etaSeconds: Double? {
        let done = step - startStep
        guard done > 0, elapsedSeconds >= 0 else { return nil }
        return elapsedSeconds / Double(done) * Double(max(0, totalSteps - step))
    }

    /// The line (no newline).
    public var text: String {
        var parts = ["step \(step)/\(totalSteps)"]
        if let loss { parts.append("loss " + String(format: "%.4f", loss)) }
        if let learningRate { parts.append("lr " + String(format: "%.2e", learningRate)) }
        if let tokensPerSecond { parts.append(String(format: "%.0f", tokensPerSecond) + " tok/s") }
        parts.append("ETA " + (etaSeconds.map(Self.duration) ?? "--"))
        return parts.joined(separator: " | ")
    }

    /// Formats seconds as `1h02m03s`, `4m12s` or `9s` (rounded to whole seconds).
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "--" }
        let s = Int(seconds.rounded())
        let (h, m, r) = (s / 3600, (s % 3600) / 60, s % 60)
        if h > 0 { return String(format: "%dh%02dm%02ds", h, m, r) }
        if m > 0 { return String(format: "%dm%02ds", m, r) }
        return "\(r)s"
    }
}

// MARK: - Structured log line

/// Formats one structured log line per logging step, as logfmt or JSON (keys in the given order,
/// `step` first): `step=120 loss=3.4521 learning_rate=0.0003` or `{"step":120,"loss":3.4521,...}`.
/// Non-finite values are written `NaN`/`+Inf`/`-Inf` in logfmt and `null` in JSON (JSON has no NaN).
public enum StructuredLogLine {
    /// The output syntax.
    public enum Format: String, Codable, Sendable { case logfmt, json }

    /// Returns the line (no newline).
    /// - Parameters:
    ///   - step: the optimizer step.
    ///   - metrics: `(name, value)` pairs in output order.
    ///   - format: logfmt or JSON.
    public static func format(step: Int, metrics: [(String, Double)], format: Format) -> String {
        switch format {
        case .logfmt:
            return (["step=\(step)"] + metrics.map { "\(logfmtKey($0.0))=\(number($0.1, json: false))" })
                .joined(separator: " ")
        case .json:
            let body = metrics.map { "\(JSONText.literal($0.0)):\(number($0.1, json: true))" }
            return "{" + (["\"step\":\(step)"] + body).joined(separator: ",") + "}"
        }
    }

    /// Shortest round-tripping decimal for finite values (Swift's `description`), integers without `.0`.
    static func number(_ v: Double, json: Bool) -> String {
        if v.isNaN { return json ? "null" : "NaN" }
        if v.isInfinite { return json ? "null" : (v > 0 ? "+Inf" : "-Inf") }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }

    static func logfmtKey(_ k: String) -> String {
        // logfmt keys may not hold spaces, '=' or quotes
        String(k.map { ($0 == " " || $0 == "=" || $0 == "\"") ? "_" : $0 })
    }
}
