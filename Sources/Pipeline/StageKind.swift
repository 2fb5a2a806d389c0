import Foundation

// MARK: - Stage kinds

/// A kind of pipeline stage (`pretrain`, `ppo`, `command`, ...): its schema and how to run it.
///
/// The orchestrator creates one instance per stage run with `init()`, calls `resolveInputs` (before the
/// cache key is computed) and, on a cache miss, `run`. A kind is registered once in a `StageRegistry`.
///
/// Contract for `run`:
/// - write the artifact into `context.outputDirectory` (empty, temporary; renamed into
///   `<workdir>/artifacts/<digest>` on success). A model-producing stage writes the Hugging Face layout at
///   its root; other outputs go in subdirectories.
/// - read upstream artifacts with `context.input("stage-name")`, parameters with `context.params`.
/// - report metrics with `context.metrics.log(step:name:value:)` (HF Trainer / TRL names), progress with
///   `context.progress(_:_:)`, and poll `try context.checkCancellation()` in long loops.
/// - resumable kinds save state in `context.checkpointDirectory`, which survives interruption
///   (`kill -9`) and is removed after success.
/// - throw to fail; nothing half-written is ever served from the cache.
public protocol StageKind: Sendable {
    /// The name used in pipeline files' `kind:` (e.g. `pretrain`).
    static var name: String { get }
    /// The code version: bump when a change of the code changes results (part of the cache key).
    static var version: String { get }
    /// One-line description shown by `rlhf run --list-kinds`.
    static var summary: String { get }
    /// The accepted parameters (validated before anything runs).
    static var parameters: ParameterSchema { get }
    /// Whether a result may be served from the cache (false for stages with side effects).
    static var cacheable: Bool { get }
    /// The metrics shown in run summaries and `rlhf status` (last value of each).
    static var headlineMetrics: [String] { get }

    /// Creates an instance for one stage run.
    init()

    /// Resolves inputs beyond parameters and `needs`, before the cache key is computed.
    ///
    /// Path-typed parameters and a stage's `inputs:` are hashed by the orchestrator; implement this for
    /// anything else, e.g. a database snapshot: query, write the snapshot into
    /// `context.snapshotDirectory`, and the orchestrator stores that directory as a content-addressed
    /// snapshot artifact whose digest enters the key (so new comparisons change the key). `run` then
    /// reads the same snapshot from `context.snapshotDirectory`. Return named digests of anything else.
    /// - Throws: any error; it fails the stage before it runs.
    func resolveInputs(_ context: StageContext) async throws -> [ResolvedInput]

    /// Runs the stage, writing its artifact into `context.outputDirectory`.
    /// - Throws: any error to fail the stage; `CancellationError` when cancelled.
    func run(_ context: StageContext) async throws
}

extension StageKind {
    public static var summary: String { "" }
    public static var cacheable: Bool { true }
    public static var headlineMetrics: [String] { [] }
    public func resolveInputs(_ context: StageContext) async throws -> [ResolvedInput] { [] }
}

// MARK: - Resolved inputs

/// A named content digest that is part of a stage's cache key.
public struct ResolvedInput: Sendable, Hashable, Codable {
    /// What the input is (e.g. `comparisons`, a path); unique within a stage.
    public var name: String
    /// SHA-256 hex digest of the input's exact content.
    public var digest: String

    public init(name: String, digest: String) {
        self.name = name
        self.digest = digest
    }

    /// The digest of a file or directory (see `ContentDigest.of(_:)`), named by `name` or the path.
    /// - Throws: `CocoaError` when the path cannot be read.
    public static func path(_ url: URL, name: String? = nil) throws -> ResolvedInput {
        ResolvedInput(name: name ?? url.path, digest: try ContentDigest.of(url))
    }

    /// The digest of in-memory bytes (e.g. a query result serialised canonically).
    public static func bytes(_ data: Data, name: String) -> ResolvedInput {
        ResolvedInput(name: name, digest: ContentDigest.sha256Hex(data))
    }
}
