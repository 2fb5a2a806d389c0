import Foundation

// MARK: - Lineage of a stage's inputs

/// A stage upstream of the running stage (in the transitive closure of its `needs`), as recorded by
/// the orchestrator in this run: what it is, how it was configured, what it read and what it measured.
///
/// Read-only; the `export` stage turns it into a model card (DVC's `dvc.lock` plays this role there).
public struct UpstreamStage: Sendable, Hashable {
    /// The stage's name in the pipeline (e.g. `pretrain`).
    public var name: String
    /// Its kind (e.g. `pretrain`) and the kind's code version.
    public var kind: String
    public var version: String
    /// Its resolved parameters (defaults filled in); exactly those in its cache key.
    public var params: [String: ParameterValue]
    /// Its seed.
    public var seed: UInt64
    /// The artifact it produced or was served from the cache (SHA-256 hex), nil if none.
    public var artifact: String?
    /// Whether the artifact was served from the cache in this run.
    public var cached: Bool
    /// Digests of the data it read beyond `needs`: path parameters, `inputs:`, database snapshots
    /// (`snapshot`); the same digests as in its cache key.
    public var inputs: [ResolvedInput]
    /// The last value of each of its metrics (of the run that produced the artifact, when cached).
    public var metrics: [String: Double]
    /// Its headline metric names (a subset of `metrics`' keys).
    public var headline: [String]

    /// Creates a record (the orchestrator does this; tests may too).
    public init(name: String, kind: String, version: String, params: [String: ParameterValue], seed: UInt64,
                artifact: String?, cached: Bool, inputs: [ResolvedInput], metrics: [String: Double], headline: [String]) {
        self.name = name
        self.kind = kind
        self.version = version
        self.params = params
        self.seed = seed
        self.artifact = artifact
        self.cached = cached
        self.inputs = inputs
        self.metrics = metrics
        self.headline = headline
    }
}

/// The pipeline a stage runs in and every stage upstream of it, in topological order.
public struct StageLineage: Sendable, Hashable {
    /// The pipeline's `name:`.
    public var pipeline: String
    /// The pipeline file (absolute path).
    public var file: String
    /// The stages in the transitive closure of the running stage's `needs`, in topological order.
    public var stages: [UpstreamStage]

    /// Creates a lineage record.
    public init(pipeline: String, file: String, stages: [UpstreamStage]) {
        self.pipeline = pipeline
        self.file = file
        self.stages = stages
    }

    /// No pipeline (a stage run outside the orchestrator, e.g. in a unit test).
    public static let empty = StageLineage(pipeline: "", file: "", stages: [])
}

// MARK: - Runner bookkeeping

/// What the runner learnt about each stage of the current run (thread-safe), for `StageLineage`.
final class LineageBook: @unchecked Sendable {
    private let lock = NSLock()
    private var inputs: [String: [ResolvedInput]] = [:]
    private var results: [String: StageResult] = [:]

    func record(inputs resolved: [ResolvedInput], of stage: String) { lock.withLock { inputs[stage] = resolved } }
    func record(_ result: StageResult) { lock.withLock { results[result.name] = result } }

    /// The lineage of `stage`'s `needs` (transitively), in the pipeline's topological order.
    func lineage(of stage: ValidatedStage, in pipeline: ValidatedPipeline) -> StageLineage {
        let upstream = pipeline.closure(of: stage.needs)
        let stages: [UpstreamStage] = lock.withLock {
            pipeline.stages.filter { upstream.contains($0.name) }.map { s in
                let r = results[s.name]
                return UpstreamStage(name: s.name, kind: s.kind.name, version: s.kind.version, params: s.params.values,
                                     seed: s.seed, artifact: r?.artifact, cached: r?.state == .cached,
                                     inputs: (inputs[s.name] ?? []).sorted { $0.name < $1.name },
                                     metrics: r?.metrics ?? [:], headline: r?.headline ?? [])
            }
        }
        return StageLineage(pipeline: pipeline.spec.name, file: pipeline.spec.file.path, stages: stages)
    }
}
