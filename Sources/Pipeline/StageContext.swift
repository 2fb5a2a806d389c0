import Foundation
import Logging

// MARK: - Stage context

/// Everything a stage run sees: parameters, seed, directories, inputs, logger, metrics, progress, cancellation.
public final class StageContext: @unchecked Sendable {
    /// The stage's name in the pipeline (e.g. `reward-model`).
    public let stageName: String
    /// The run this stage run belongs to (`rlhf status RUN`).
    public let runID: Int64
    /// Parameters, typed against the kind's schema, defaults filled in.
    public let params: ResolvedParameters
    /// The stage's seed (the pipeline's `seed:`, or the stage's own).
    public let seed: UInt64
    /// The pipeline file's directory; relative paths resolve against it.
    public let pipelineDirectory: URL
    /// The artifact directory of each stage in `needs`, by stage name.
    public let inputs: [String: URL]
    /// Where `run` writes the artifact (empty, temporary; renamed into the cache on success).
    public let outputDirectory: URL
    /// Survives interruption; keyed by the cache key; removed after success.
    public let checkpointDirectory: URL
    /// During `resolveInputs`: a staging directory for snapshots (empty). During `run`: the stored
    /// snapshot artifact when `resolveInputs` wrote one, otherwise `nil`.
    public let snapshotDirectory: URL?
    /// The stage's log file (the logger writes there too; commands send their output there).
    public let logFile: URL
    /// A logger writing to the stage's log file and to the orchestrator's handler.
    public let logger: Logger
    /// Where the stage reports metrics.
    public let metrics: MetricsRecorder
    /// The pipeline and every stage upstream of this one (parameters, artifacts, data digests, metrics),
    /// read-only; `StageLineage.empty` outside the orchestrator.
    public let lineage: StageLineage
    /// Compute threads the stage's numeric work may use (`rlhf run --threads`; stages that train or
    /// generate pass it to `BLAS.setThreads`, command stages export it as `RLHF_NUM_THREADS`). An
    /// execution setting: it is not part of the cache key, and the numeric kernels give bit-identical
    /// results at any thread count, so the artifacts do not depend on it either.
    public let threads: Int
    private let progressHandler: @Sendable (StageProgress) -> Void
    private let cancelled: CancellationFlag

    /// Creates a context (the orchestrator does this; tests of a stage kind may too).
    public init(stageName: String, runID: Int64, params: ResolvedParameters, seed: UInt64, pipelineDirectory: URL,
                inputs: [String: URL], outputDirectory: URL, checkpointDirectory: URL, snapshotDirectory: URL?,
                logFile: URL, logger: Logger, metrics: MetricsRecorder,
                progress: @escaping @Sendable (StageProgress) -> Void = { _ in },
                cancellation: CancellationFlag = CancellationFlag(), lineage: StageLineage = .empty,
                threads: Int = StageContext.defaultThreads) {
        self.stageName = stageName
        self.runID = runID
        self.params = params
        self.seed = seed
        self.pipelineDirectory = pipelineDirectory
        self.inputs = inputs
        self.outputDirectory = outputDirectory
        self.checkpointDirectory = checkpointDirectory
        self.snapshotDirectory = snapshotDirectory
        self.logFile = logFile
        self.logger = logger
        self.metrics = metrics
        self.progressHandler = progress
        self.cancelled = cancellation
        self.lineage = lineage
        self.threads = max(1, threads)
    }

    /// The default thread count: `RLHF_NUM_THREADS` when it is a positive integer, otherwise the number of
    /// active processors (the same rule as `ComputeThreads.defaultCount` in Tensors).
    public static let defaultThreads: Int = {
        if let s = ProcessInfo.processInfo.environment["RLHF_NUM_THREADS"], let n = Int(s.trimmingCharacters(in: .whitespaces)), n > 0 {
            return n
        }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// The artifact directory of the `needs` stage `name`.
    /// - Throws: `PipelineError.missingInput` when `name` is not in the stage's `needs`.
    public func input(_ name: String) throws -> URL {
        guard let url = inputs[name] else {
            throw PipelineError.missingInput(stage: stageName, name: name, available: Array(inputs.keys))
        }
        return url
    }

    /// Reports progress (shown on the terminal); `fraction` in [0, 1].
    public func progress(_ fraction: Double, _ message: String = "") {
        progressHandler(StageProgress(stage: stageName, fraction: fraction, message: message))
    }

    /// Whether the run was cancelled (Ctrl-C or a failure elsewhere); long loops should stop.
    public var isCancelled: Bool { cancelled.isSet || Task.isCancelled }

    /// Throws `CancellationError` when the run was cancelled.
    public func checkCancellation() throws {
        if isCancelled { throw CancellationError() }
    }
}

/// A progress report of a running stage.
public struct StageProgress: Sendable {
    public var stage: String
    /// In [0, 1].
    public var fraction: Double
    public var message: String
}

/// A thread-safe flag set when a run is cancelled.
public final class CancellationFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    public init() {}
    public var isSet: Bool { lock.withLock { value } }
    public func set() { lock.withLock { value = true } }
}

// MARK: - Parameters

/// A stage's parameters after validation: typed accessors with errors that name stage and parameter.
public struct ResolvedParameters: Sendable, Hashable {
    /// The values by name (defaults filled in).
    public let values: [String: ParameterValue]
    let stage: String
    let baseDirectory: URL

    public init(_ values: [String: ParameterValue], stage: String, baseDirectory: URL) {
        self.values = values
        self.stage = stage
        self.baseDirectory = baseDirectory
    }

    /// Canonical JSON of all values (sorted keys): the parameters' part of the cache key.
    public var canonicalJSON: String { ParameterValue.map(values).canonicalJSON }

    private func value(_ name: String) throws -> ParameterValue {
        guard let v = values[name], v != .null else {
            throw PipelineError.parameter(stage: stage, name: name, message: "missing; add it under the stage's `params:`")
        }
        return v
    }

    private func mismatch(_ name: String, _ expected: String, _ v: ParameterValue) -> PipelineError {
        .parameter(stage: stage, name: name, message: "expected \(expected), found \(v)")
    }

    /// The value of `name` if present, else `nil`.
    public subscript(name: String) -> ParameterValue? { values[name] }

    /// - Throws: `PipelineError.parameter` if missing or not an integer.
    public func int(_ name: String) throws -> Int {
        let v = try value(name)
        if case .int(let i) = v { return i }
        throw mismatch(name, "an integer", v)
    }

    /// - Throws: `PipelineError.parameter` if missing or not a number.
    public func double(_ name: String) throws -> Double {
        let v = try value(name)
        switch v {
        case .float(let d): return d
        case .int(let i): return Double(i)
        default: throw mismatch(name, "a number", v)
        }
    }

    /// - Throws: `PipelineError.parameter` if missing or not a boolean.
    public func bool(_ name: String) throws -> Bool {
        let v = try value(name)
        if case .bool(let b) = v { return b }
        throw mismatch(name, "true or false", v)
    }

    /// - Throws: `PipelineError.parameter` if missing or not a string.
    public func string(_ name: String) throws -> String {
        let v = try value(name)
        if case .string(let s) = v { return s }
        throw mismatch(name, "a string", v)
    }

    /// A path parameter resolved against the pipeline file's directory.
    /// - Throws: `PipelineError.parameter` if missing or not a string.
    public func path(_ name: String) throws -> URL {
        resolve(try string(name))
    }

    /// A list of strings.
    /// - Throws: `PipelineError.parameter` if missing or not a list of strings.
    public func strings(_ name: String) throws -> [String] {
        let v = try value(name)
        guard case .list(let items) = v else { throw mismatch(name, "a list", v) }
        return try items.map {
            guard case .string(let s) = $0 else { throw mismatch(name, "a list of strings", v) }
            return s
        }
    }

    /// A list of paths resolved against the pipeline file's directory.
    public func paths(_ name: String) throws -> [URL] { try strings(name).map(resolve) }

    /// A map parameter.
    /// - Throws: `PipelineError.parameter` if missing or not a map.
    public func map(_ name: String) throws -> [String: ParameterValue] {
        let v = try value(name)
        if case .map(let m) = v { return m }
        throw mismatch(name, "a mapping", v)
    }

    /// `path` made absolute against the pipeline directory (absolute paths are kept).
    public func resolve(_ path: String) -> URL {
        path.hasPrefix("/") ? URL(fileURLWithPath: path) : baseDirectory.appendingPathComponent(path).standardizedFileURL
    }
}

// MARK: - Metrics

/// One metric observation.
public struct MetricPoint: Sendable, Hashable, Codable {
    public var step: Int
    public var name: String
    public var value: Double
    /// Seconds since 1970.
    public var time: Double
}

/// Collects a stage's metrics (thread-safe); the orchestrator stores them in SQLite as they come.
public final class MetricsRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var pending: [MetricPoint] = []
    private var lastValues: [String: Double] = [:]
    private var headline: [String] = []

    public init(headline: [String] = []) { self.headline = headline }

    /// Records `value` of metric `name` at `step` (optimizer steps, or 0 for one-off evaluations).
    /// Use HF Trainer / TRL names: `loss`, `eval_loss`, `learning_rate`, `objective/kl`, ...
    public func log(step: Int, name: String, value: Double) {
        let point = MetricPoint(step: step, name: name, value: value, time: Date().timeIntervalSince1970)
        lock.withLock {
            pending.append(point)
            lastValues[name] = value
        }
    }

    /// Marks metrics as headline (shown in summaries) in addition to the kind's `headlineMetrics`.
    public func markHeadline(_ names: [String]) {
        lock.withLock { for n in names where !headline.contains(n) { headline.append(n) } }
    }

    /// The headline metric names, in order.
    public var headlineNames: [String] { lock.withLock { headline } }

    /// The last value of every metric logged so far.
    public var last: [String: Double] { lock.withLock { lastValues } }

    /// Removes and returns the points not yet stored.
    public func drain() -> [MetricPoint] {
        lock.withLock {
            defer { pending.removeAll() }
            return pending
        }
    }
}
