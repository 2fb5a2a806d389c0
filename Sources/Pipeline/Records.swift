import Foundation
import GRDB

// MARK: - Records

/// The state of a run or stage run in the database.
public enum RunState: String, Sendable, Codable, CaseIterable {
    case queued, running, succeeded, failed, cached, skipped
    /// The process died while running (detected from its pid, host and heartbeat).
    case interrupted
}

/// One `rlhf run` invocation.
public struct RunRecord: Sendable, Codable, Hashable {
    public var id: Int64
    public var pipeline: String
    public var file: String
    public var state: RunState
    /// Seconds since 1970.
    public var started: Double
    public var ended: Double?
    public var pid: Int32
    public var host: String
    public var heartbeat: Double
    public var error: String?
}

/// One stage within a run: its state, cache key, artifact and where it ran.
public struct StageRunRecord: Sendable, Codable, Hashable {
    public var id: Int64
    public var runId: Int64
    public var stage: String
    public var kind: String
    /// The cache key (SHA-256 hex) or `nil` when not computed (skipped before resolution).
    public var key: String?
    public var state: RunState
    public var cached: Bool
    /// The artifact digest produced or served.
    public var artifact: String?
    /// For a cached stage run: the stage run that produced the artifact (its metrics are shown).
    public var sourceStageRunId: Int64?
    public var started: Double?
    public var ended: Double?
    public var error: String?
    public var logPath: String?
    public var pid: Int32?
    public var host: String?
    public var heartbeat: Double?
    /// JSON array of headline metric names.
    public var headline: String?

    /// `ended - started` in seconds.
    public var seconds: Double? { started.flatMap { s in ended.map { $0 - s } } }
    /// Decoded `headline`.
    public var headlineNames: [String] {
        guard let h = headline, let names = try? JSONDecoder().decode([String].self, from: Data(h.utf8)) else { return [] }
        return names
    }
}

/// A content-addressed artifact in `<workdir>/artifacts/<digest>`.
public struct ArtifactRecord: Sendable, Codable, Hashable {
    public var digest: String
    /// The stage kind that produced it (`snapshot:<kind>` for a database snapshot).
    public var kind: String
    public var stage: String
    /// Path relative to the work directory (`artifacts/<digest>`).
    public var path: String
    public var bytes: Int64
    public var files: Int
    /// JSON of `ArtifactManifest`.
    public var manifest: String
    public var created: Double
    public var stageRunId: Int64?
}

/// One metric observation of a stage run.
public struct MetricRecord: Sendable, Codable, Hashable {
    public var runId: Int64
    public var stageRunId: Int64
    public var stage: String
    public var step: Int
    public var name: String
    public var value: Double
    public var time: Double
}

/// An artifact consumed (role `input` or `snapshot`) or produced (`output`) by a stage run.
public struct LineageRecord: Sendable, Codable, Hashable {
    public var stageRunId: Int64
    public var artifact: String
    public var role: String
    /// For inputs: the `needs` stage name.
    public var name: String?
}

extension RunRecord: FetchableRecord, TableRecord {
    public static let databaseTableName = "runs"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
}
extension StageRunRecord: FetchableRecord, TableRecord {
    public static let databaseTableName = "stage_runs"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
}
extension ArtifactRecord: FetchableRecord, TableRecord {
    public static let databaseTableName = "artifacts"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
}
extension MetricRecord: FetchableRecord, TableRecord {
    public static let databaseTableName = "metrics"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
}
extension LineageRecord: FetchableRecord, TableRecord {
    public static let databaseTableName = "lineage"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
}
extension RunState: DatabaseValueConvertible {}
