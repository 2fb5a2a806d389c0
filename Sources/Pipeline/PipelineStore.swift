import Foundation
import GRDB

// MARK: - Store

/// Owns `<workdir>/rlhf.sqlite` (GRDB pool, WAL) and the work directory's layout; runs migrations on open.
///
/// Layout: `rlhf.sqlite`, `artifacts/<digest>/` (immutable), `tmp/` (stage outputs being written),
/// `checkpoints/<key>/` (resumable state), `locks/<key>.lock` (flock per cache key), `logs/run-<id>/<stage>.log`.
public final class PipelineStore: @unchecked Sendable {
    /// The work directory (absolute).
    public let workdir: URL
    /// The database file.
    public let databaseURL: URL
    let pool: DatabasePool

    /// The host name recorded with running stages.
    public static let host = ProcessInfo.processInfo.hostName
    /// Seconds after which a running record whose heartbeat stopped is treated as dead (any host).
    public static let lease: Double = 120

    /// Opens (and migrates) the store of `workdir`.
    /// - Parameters:
    ///   - workdir: the work directory (e.g. `.rlhf`).
    ///   - create: create the directory and database when absent; otherwise a missing store is an error.
    ///   - busyTimeout: seconds to wait for another process's write lock before failing.
    /// - Throws: `PipelineError.notFound` when `create` is false and there is no database;
    ///   `PipelineError.database` when the file is not a database, is locked, or cannot be migrated.
    public init(workdir: URL, create: Bool = true, busyTimeout: Double = 30) throws {
        self.workdir = workdir.standardizedFileURL
        self.databaseURL = self.workdir.appendingPathComponent("rlhf.sqlite")
        let fm = FileManager.default
        if !fm.fileExists(atPath: databaseURL.path) {
            guard create else {
                throw PipelineError.notFound(what: "work directory database \(databaseURL.path)",
                                             fix: "run `rlhf run PIPELINE.yaml` first, or pass `--workdir` to the work directory it used")
            }
        }
        for sub in ["", "artifacts", "tmp", "checkpoints", "locks", "logs", "quarantine"] {
            try? fm.createDirectory(at: self.workdir.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        var config = Configuration()
        config.busyMode = .timeout(busyTimeout)
        config.label = "rlhf"
        let path = databaseURL.path
        do {
            // Open and migrate under an exclusive file lock. Two openers of a fresh database both switch it
            // to WAL, which needs an exclusive SQLite lock that is refused at once (SQLITE_BUSY, no busy wait)
            // while the other holds a shared one; and both would see "not migrated" and race to create tables.
            let openLock = FileLock(databaseURL.appendingPathExtension("migrate.lock"))
            let deadline = Date().addingTimeInterval(busyTimeout)
            while try !openLock.tryLock() {
                guard Date() < deadline else { throw DatabaseError(resultCode: .SQLITE_BUSY) }
                Thread.sleep(forTimeInterval: 0.02)
            }
            defer { openLock.unlock() }
            pool = try DatabasePool(path: path, configuration: config)
            try Migrations.migrator.migrate(pool)
        } catch {
            throw PipelineStore.describe(error, path: path)
        }
    }

    /// Maps a GRDB error to a `PipelineError.database` that says how to fix it.
    static func describe(_ error: Error, path: String) -> PipelineError {
        if let e = error as? PipelineError { return e }
        guard let db = error as? DatabaseError else {
            return .database(path: path, message: "\(error)", fix: "check the work directory's permissions")
        }
        switch db.resultCode {
        case .SQLITE_NOTADB:
            return .database(path: path, message: "the file is not an SQLite database",
                             fix: "move the file away or pass a different `--workdir`")
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return .database(path: path, message: "the database is locked by another process",
                             fix: "wait for the other `rlhf` process to finish, or stop it")
        case .SQLITE_CORRUPT:
            return .database(path: path, message: "the database is corrupt",
                             fix: "restore it from a backup or move it away (artifacts stay in `artifacts/`)")
        case .SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_PERM:
            return .database(path: path, message: "cannot open the database for writing (\(db.message ?? "\(db.resultCode)"))",
                             fix: "check the permissions of the work directory")
        default:
            return .database(path: path, message: db.message ?? "\(db)", fix: "check the work directory")
        }
    }

    func write<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try pool.write(body) } catch { throw PipelineStore.describe(error, path: databaseURL.path) }
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try pool.read(body) } catch { throw PipelineStore.describe(error, path: databaseURL.path) }
    }

    static var now: Double { Date().timeIntervalSince1970 }
    static var pid: Int32 { ProcessInfo.processInfo.processIdentifier }

    /// The absolute directory of an artifact.
    public func artifactURL(_ digest: String) -> URL {
        workdir.appendingPathComponent("artifacts").appendingPathComponent(digest)
    }

    // MARK: - Runs

    /// Inserts a running run owned by this process; returns its id.
    public func startRun(pipeline: String, file: String) throws -> Int64 {
        try write { db in
            try db.execute(sql: """
                INSERT INTO runs (pipeline, file, state, started, pid, host, heartbeat) VALUES (?, ?, 'running', ?, ?, ?, ?)
                """, arguments: [pipeline, file, Self.now, Self.pid, Self.host, Self.now])
            return db.lastInsertedRowID
        }
    }

    /// Marks a run finished with `state`.
    public func finishRun(_ id: Int64, state: RunState, error: String? = nil) throws {
        try write { db in
            try db.execute(sql: "UPDATE runs SET state = ?, ended = ?, error = ? WHERE id = ?",
                           arguments: [state, Self.now, error, id])
        }
    }

    /// Refreshes the heartbeat of a run and of its running stage runs.
    public func heartbeat(run id: Int64) throws {
        try write { db in
            try db.execute(sql: "UPDATE runs SET heartbeat = ? WHERE id = ?", arguments: [Self.now, id])
            try db.execute(sql: "UPDATE stage_runs SET heartbeat = ? WHERE run_id = ? AND state = 'running'",
                           arguments: [Self.now, id])
        }
    }

    /// Marks as `interrupted` every running run and stage run whose process is dead. On this host: the
    /// pid no longer exists, or the heartbeat stopped for `lease` seconds and nobody holds the stage's
    /// lock (a reused pid). On another host: no heartbeat for `lease` seconds.
    /// - Returns: the stage runs that were reaped.
    @discardableResult
    public func reapStale(lease: Double = PipelineStore.lease) throws -> [StageRunRecord] {
        let workdir = self.workdir
        func dead(pid: Int32?, host: String?, heartbeat: Double?, key: String?) -> Bool {
            let stale = (heartbeat ?? 0) < Self.now - lease
            guard let pid, host == Self.host else { return stale }
            if pid == Self.pid { return false }
            if kill(pid, 0) != 0 && errno == ESRCH { return true }
            guard stale, let key else { return false }
            let lock = FileLock(workdir.appendingPathComponent("locks/\(key).lock"))
            defer { lock.unlock() }
            return (try? lock.tryLock()) == true
        }
        return try write { db in
            let running = try StageRunRecord.fetchAll(db, sql: "SELECT * FROM stage_runs WHERE state = 'running'")
            var reaped: [StageRunRecord] = []
            for var r in running where dead(pid: r.pid, host: r.host, heartbeat: r.heartbeat, key: r.key) {
                let message = "interrupted: process \(r.pid.map(String.init) ?? "?") on \(r.host ?? "?") died while running"
                try db.execute(sql: "UPDATE stage_runs SET state = 'interrupted', ended = heartbeat, error = ? WHERE id = ?",
                               arguments: [message, r.id])
                r.state = .interrupted
                r.error = message
                reaped.append(r)
            }
            let runs = try RunRecord.fetchAll(db, sql: "SELECT * FROM runs WHERE state = 'running'")
            for r in runs where dead(pid: r.pid, host: r.host, heartbeat: r.heartbeat, key: nil) {
                try db.execute(sql: "UPDATE runs SET state = 'interrupted', ended = heartbeat, error = ? WHERE id = ?",
                               arguments: ["interrupted: process \(r.pid) on \(r.host) died", r.id])
            }
            return reaped
        }
    }

    // MARK: - Stage runs

    /// Inserts a stage run in `state`; returns its id.
    public func insertStageRun(run: Int64, stage: String, kind: String, key: String?, state: RunState,
                               logPath: String?, headline: [String]) throws -> Int64 {
        let headlineJSON = String(decoding: (try? JSONEncoder().encode(headline)) ?? Data("[]".utf8), as: UTF8.self)
        return try write { db in
            let running = state == .running
            try db.execute(sql: """
                INSERT INTO stage_runs (run_id, stage, kind, key, state, started, log_path, pid, host, heartbeat, headline)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [run, stage, kind, key, state, Self.now, logPath,
                                 running ? Self.pid : nil, running ? Self.host : nil, running ? Self.now : nil, headlineJSON])
            return db.lastInsertedRowID
        }
    }

    /// Sets a stage run's final state.
    public func finishStageRun(_ id: Int64, state: RunState, cached: Bool = false, key: String? = nil,
                               artifact: String? = nil, source: Int64? = nil, error: String? = nil,
                               headline: [String]? = nil) throws {
        let headlineJSON = headline.map { String(decoding: (try? JSONEncoder().encode($0)) ?? Data("[]".utf8), as: UTF8.self) }
        try write { db in
            try db.execute(sql: """
                UPDATE stage_runs SET state = ?, cached = ?, key = COALESCE(?, key), artifact = ?, source_stage_run_id = ?,
                  error = ?, ended = ?, headline = COALESCE(?, headline) WHERE id = ?
                """, arguments: [state, cached, key, artifact, source, error, Self.now, headlineJSON, id])
        }
    }

    // MARK: - Cache

    /// The cache entry for `key`: the artifact and the stage run that produced it.
    public func cacheEntry(key: String) throws -> (artifact: ArtifactRecord, stageRunID: Int64)? {
        try read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT artifact, stage_run_id FROM cache WHERE key = ?", arguments: [key]),
                  let artifact = try ArtifactRecord.fetchOne(db, sql: "SELECT * FROM artifacts WHERE digest = ?",
                                                             arguments: [row["artifact"] as String]) else { return nil }
            return (artifact, row["stage_run_id"])
        }
    }

    /// Records a stored artifact (idempotent: an existing digest is kept) and, when `key` is given,
    /// maps the cache key to it; both in one transaction.
    public func recordArtifact(_ artifact: ArtifactRecord, key: String?, stageRunID: Int64) throws {
        try write { db in
            try db.execute(sql: """
                INSERT OR IGNORE INTO artifacts (digest, kind, stage, path, bytes, files, manifest, created, stage_run_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [artifact.digest, artifact.kind, artifact.stage, artifact.path, artifact.bytes, artifact.files,
                                 artifact.manifest, artifact.created, artifact.stageRunId])
            if let key {
                try db.execute(sql: "INSERT OR REPLACE INTO cache (key, artifact, stage_run_id, created) VALUES (?, ?, ?, ?)",
                               arguments: [key, artifact.digest, stageRunID, Self.now])
            }
        }
    }

    /// The artifact with `digest`, if recorded.
    public func artifact(_ digest: String) throws -> ArtifactRecord? {
        try read { db in try ArtifactRecord.fetchOne(db, sql: "SELECT * FROM artifacts WHERE digest = ?", arguments: [digest]) }
    }

    /// Removes an artifact's record and cache entries (the directory is handled by the caller).
    public func forgetArtifact(_ digest: String) throws {
        try write { db in
            try db.execute(sql: "DELETE FROM cache WHERE artifact = ?", arguments: [digest])
            try db.execute(sql: "DELETE FROM artifacts WHERE digest = ?", arguments: [digest])
        }
    }

    /// Records lineage rows for a stage run.
    public func addLineage(stageRunID: Int64, _ rows: [(artifact: String, role: String, name: String?)]) throws {
        try write { db in
            for r in rows {
                try db.execute(sql: "INSERT INTO lineage (stage_run_id, artifact, role, name) VALUES (?, ?, ?, ?)",
                               arguments: [stageRunID, r.artifact, r.role, r.name])
            }
        }
    }

    // MARK: - Metrics

    /// Appends metric points of a stage run.
    public func addMetrics(_ points: [MetricPoint], run: Int64, stageRunID: Int64, stage: String) throws {
        guard !points.isEmpty else { return }
        try write { db in
            let stmt = try db.cachedStatement(sql: """
                INSERT INTO metrics (run_id, stage_run_id, stage, step, name, value, time) VALUES (?, ?, ?, ?, ?, ?, ?)
                """)
            for p in points {
                try stmt.execute(arguments: [run, stageRunID, stage, p.step, p.name, p.value, p.time])
            }
        }
    }

    /// All metric points of a stage run, ordered by name and step.
    public func metrics(stageRunID: Int64) throws -> [MetricRecord] {
        try read { db in
            try MetricRecord.fetchAll(db, sql: "SELECT * FROM metrics WHERE stage_run_id = ? ORDER BY name, step, id",
                                      arguments: [stageRunID])
        }
    }

    /// The last value of each metric of a stage run.
    public func lastMetrics(stageRunID: Int64) throws -> [String: Double] {
        try read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT name, value FROM metrics WHERE id IN (SELECT MAX(id) FROM metrics WHERE stage_run_id = ? GROUP BY name)
                """, arguments: [stageRunID])
            return Dictionary(rows.map { ($0["name"] as String, $0["value"] as Double) }, uniquingKeysWith: { _, b in b })
        }
    }

    // MARK: - Queries

    /// Runs, newest first.
    public func runs(limit: Int = 50) throws -> [RunRecord] {
        try read { db in try RunRecord.fetchAll(db, sql: "SELECT * FROM runs ORDER BY id DESC LIMIT ?", arguments: [limit]) }
    }

    /// The run `id`, or the newest run when `id` is nil.
    public func run(_ id: Int64?) throws -> RunRecord? {
        try read { db in
            if let id { return try RunRecord.fetchOne(db, sql: "SELECT * FROM runs WHERE id = ?", arguments: [id]) }
            return try RunRecord.fetchOne(db, sql: "SELECT * FROM runs ORDER BY id DESC LIMIT 1")
        }
    }

    /// The stage runs of a run, in insertion order.
    public func stageRuns(run: Int64) throws -> [StageRunRecord] {
        try read { db in try StageRunRecord.fetchAll(db, sql: "SELECT * FROM stage_runs WHERE run_id = ? ORDER BY id", arguments: [run]) }
    }

    /// Every stage run (for diagnostics and tests).
    public func allStageRuns() throws -> [StageRunRecord] {
        try read { db in try StageRunRecord.fetchAll(db, sql: "SELECT * FROM stage_runs ORDER BY id") }
    }

    /// A stage run by id.
    public func stageRun(_ id: Int64) throws -> StageRunRecord? {
        try read { db in try StageRunRecord.fetchOne(db, sql: "SELECT * FROM stage_runs WHERE id = ?", arguments: [id]) }
    }

    /// Every artifact, newest first.
    public func artifacts() throws -> [ArtifactRecord] {
        try read { db in try ArtifactRecord.fetchAll(db, sql: "SELECT * FROM artifacts ORDER BY created DESC") }
    }

    /// Digests of artifacts referenced (produced, served or consumed) by the newest `keepLast` runs of
    /// each pipeline file.
    public func artifactsReferenced(byLastRuns keepLast: Int) throws -> Set<String> {
        try read { db in
            let recent = "SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY file ORDER BY id DESC) AS rn FROM runs) WHERE rn <= ?"
            let digests = try String.fetchAll(db, sql: """
                SELECT artifact FROM stage_runs WHERE artifact IS NOT NULL AND run_id IN (\(recent))
                UNION SELECT l.artifact FROM lineage l JOIN stage_runs s ON s.id = l.stage_run_id WHERE s.run_id IN (\(recent))
                """, arguments: [keepLast, keepLast])
            return Set(digests)
        }
    }
}
