import Foundation

// MARK: - Options

/// What `rlhf run` should do.
public struct RunOptions: Sendable {
    /// Stages run concurrently at most (independent stages only).
    public var jobs: Int = 1
    /// Stages to re-run even when cached.
    public var force: Set<String> = []
    /// Run only these stages and what they need.
    public var until: [String] = []
    /// Run only these stages; what they need must already be cached.
    public var only: [String] = []
    /// Print what would run and what is cached; run nothing.
    public var dryRun: Bool = false
    /// Compute threads of the numeric stages (`StageContext.threads`): an execution setting, never part of
    /// a cache key.
    public var threads: Int = StageContext.defaultThreads

    public init(jobs: Int = 1, force: Set<String> = [], until: [String] = [], only: [String] = [], dryRun: Bool = false,
                threads: Int = StageContext.defaultThreads) {
        self.jobs = jobs
        self.threads = max(1, threads)
        self.force = force
        self.until = until
        self.only = only
        self.dryRun = dryRun
    }
}

// MARK: - Results

/// The outcome of one stage in a run (the elements of `rlhf run --json`'s `stages`).
public struct StageResult: Sendable, Codable, Hashable {
    public enum State: String, Sendable, Codable {
        case succeeded, cached, failed, skipped
        /// `--dry-run` only: the stage would run.
        case wouldRun = "would-run"
    }
    public var name: String
    public var kind: String
    public var state: State
    /// The artifact digest, or nil.
    public var artifact: String?
    /// The artifact directory, or nil.
    public var path: String?
    /// Wall time of the stage in this run (a cached stage: the time to verify it).
    public var seconds: Double
    /// Last value of each metric (for a cached stage: of the run that produced the artifact).
    public var metrics: [String: Double]
    /// Headline metric names (subset of `metrics` keys shown in summaries).
    public var headline: [String] = []
    /// Why it failed or was skipped.
    public var error: String?
    /// The stage's log file.
    public var log: String?
    /// The cache key, when computed.
    public var key: String?
}

/// The outcome of a run.
public struct RunSummary: Sendable {
    public var runID: Int64
    public var stages: [StageResult]
    /// True when no stage failed.
    public var succeeded: Bool { !stages.contains { $0.state == .failed } }

    /// The `rlhf run --json` object: `{"run": ID, "stages": [{"name", "kind", "state", "artifact", "path", "seconds", "metrics"}]}`.
    public var json: String {
        let obj: [String: Any] = [
            "run": runID,
            "stages": stages.map { s -> [String: Any] in
                [
                    "name": s.name, "kind": s.kind, "state": s.state.rawValue,
                    "artifact": s.artifact ?? NSNull(), "path": s.path ?? NSNull(),
                    "seconds": (s.seconds * 1000).rounded() / 1000, "metrics": s.metrics,
                ]
            },
        ]
        let data = (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// What the runner reports while it works (the CLI renders these on the terminal).
public enum RunEvent: Sendable {
    case started(runID: Int64)
    case stageStarted(stage: String, kind: String, log: String)
    case waitingForLock(stage: String)
    case progress(StageProgress)
    case stageFinished(StageResult)
    case warning(String)
}
