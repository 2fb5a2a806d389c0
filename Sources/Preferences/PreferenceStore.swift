import Foundation
import Logging

// MARK: - Store

/// The PostgreSQL store of human pairwise comparisons: one libpq connection per instance, internally locked,
/// so one instance may be shared across threads (calls are serialised).
///
/// Every public operation runs in its own transaction and is retried with exponential backoff on transient
/// failures (lost connection, server restart, serialisation failure). Writes are idempotent (content hashes,
/// client-generated label UUIDs), so a retry never stores anything twice.
public final class PreferenceStore: @unchecked Sendable {
    let connection: PostgresConnection
    let logger: Logger
    private let lock = NSLock()
    /// Retry policy for transient failures.
    public var retry: RetryPolicy

    /// Connects to the server.
    /// - Parameters:
    ///   - url: a libpq URI, e.g. `postgresql://rlhf@127.0.0.1:55432/rlhf` (from `RLHF_DATABASE_URL`).
    ///   - logger: receives connection and retry events.
    ///   - retry: backoff for transient failures (also used for the first connection).
    /// - Throws: `PreferenceError.connectionFailed` saying which host:port/db was tried (never the password)
    ///   and how to start a local server (`deploy/local-postgres.sh`).
    public init(url: String, logger: Logger, retry: RetryPolicy = .default) throws {
        self.logger = logger
        self.retry = retry
        self.connection = try PostgresConnection(conninfo: url)
        logger.debug("connected to PostgreSQL", metadata: ["location": "\(connection.location)"])
    }

    /// `host:port/db` of the server (no credentials).
    public var location: String { connection.location }

    // MARK: - Migrations

    /// Applies pending schema migrations in one transaction under an advisory lock; records each in
    /// `schema_migrations`. Idempotent: a second call applies nothing.
    /// - Returns: the versions applied by this call (empty when up to date).
    /// - Throws: `PreferenceError.database` when a migration fails (nothing of it is kept).
    @discardableResult
    public func migrate() throws -> [Int] {
        try withRetry("migrate") { c in
            try c.transaction {
                try c.execute("SELECT pg_advisory_xact_lock(hashtext('rlhf-migrate:' || current_schema()))")
                try c.execute("""
                    CREATE TABLE IF NOT EXISTS schema_migrations (
                        version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                    """)
                let done = try c.execute("SELECT version FROM schema_migrations")
                let applied = Set((0..<done.rowCount).compactMap { done.int($0, 0) }.map(Int.init))
                var now: [Int] = []
                for m in preferenceMigrations where !applied.contains(m.version) {
                    try c.executeScript(m.sql)
                    try c.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", ["\(m.version)", m.name])
                    now.append(m.version)
                    logger.info("applied migration", metadata: ["version": "\(m.version)", "name": "\(m.name)"])
                }
                return now
            }
        }
    }

    /// Versions recorded in `schema_migrations`, ascending (empty before the first migration).
    public func appliedMigrations() throws -> [Int] {
        try withRetry("applied-migrations") { c in
            let exists = try c.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
            guard exists.bool(0, 0) == true else { return [] }
            let r = try c.execute("SELECT version FROM schema_migrations ORDER BY version")
            return (0..<r.rowCount).compactMap { r.int($0, 0).map(Int.init) }
        }
    }

    // MARK: - Datasets

    /// Creates the dataset if missing; with `overlap`, also sets how many distinct annotators label each comparison.
    /// - Returns: the dataset id.
    @discardableResult
    public func ensureDataset(_ name: String, overlap: Int? = nil) throws -> Int64 {
        guard !name.isEmpty else { throw PreferenceError.invalidArgument("the dataset name is empty; pass --dataset NAME") }
        if let overlap, overlap < 1 { throw PreferenceError.invalidArgument("overlap must be at least 1 (got \(overlap))") }
        return try withRetry("ensure-dataset") { c in
            try c.transaction {
                let id = try Self.ensureDataset(c, name, overlap: overlap)
                try Self.refreshFilled(c, where: "c2.dataset_id = $1", ["\(id)"])
                return id
            }
        }
    }

    /// Recomputes `comparisons.filled` (completed non-skip assignments >= overlap) for the rows matching
    /// `condition`, written against the alias `c2` (e.g. `c2.dataset_id = $1`).
    static func refreshFilled(_ c: PostgresConnection, where condition: String, _ params: [String?]) throws {
        try c.execute("""
            UPDATE comparisons cm SET filled = x.full
            FROM (SELECT c2.id, (SELECT count(*) FROM assignments s
                                 WHERE s.comparison_id = c2.id AND s.completed_at IS NOT NULL AND NOT s.skipped) >= d.overlap AS full
                  FROM comparisons c2 JOIN datasets d ON d.id = c2.dataset_id WHERE \(condition)) x
            WHERE cm.id = x.id AND cm.filled IS DISTINCT FROM x.full
            """, params)
    }

    static func ensureDataset(_ c: PostgresConnection, _ name: String, overlap: Int?) throws -> Int64 {
        let r = try c.execute("""
            INSERT INTO datasets (name, overlap) VALUES ($1, COALESCE($2::int, 1))
            ON CONFLICT (name) DO UPDATE SET overlap = COALESCE($2::int, datasets.overlap)
            RETURNING id
            """, [name, overlap.map { "\($0)" }], prepareAs: "ensure_dataset")
        guard let id = r.int(0, 0) else { throw PreferenceError.database(sqlState: nil, message: "no dataset id returned", query: "ensure_dataset") }
        return id
    }

    /// Names of all datasets, sorted.
    public func datasets() throws -> [String] {
        try withRetry("datasets") { c in
            let r = try c.execute("SELECT name FROM datasets ORDER BY name")
            return (0..<r.rowCount).compactMap { r.string($0, 0) }
        }
    }

    static func datasetId(_ c: PostgresConnection, _ name: String) throws -> (id: Int64, overlap: Int) {
        let r = try c.execute("SELECT id, overlap FROM datasets WHERE name = $1", [name], prepareAs: "dataset_id")
        guard r.rowCount == 1, let id = r.int(0, 0), let overlap = r.int(0, 1) else { throw PreferenceError.unknownDataset(name) }
        return (id, Int(overlap))
    }

    // MARK: - Prompts

    /// Distinct prompts of a dataset in insertion order (for PPO rollouts).
    /// - Parameter limit: at most this many prompts (`nil`: all).
    /// - Throws: `PreferenceError.unknownDataset` when the dataset does not exist.
    public func prompts(dataset: String, limit: Int?) throws -> [String] {
        try withRetry("prompts") { c in
            let ds = try Self.datasetId(c, dataset)
            let r = try c.execute("SELECT text FROM prompts WHERE dataset_id = $1 ORDER BY id LIMIT $2",
                                  ["\(ds.id)", limit.map { "\($0)" }])
            return (0..<r.rowCount).compactMap { r.string($0, 0) }
        }
    }

    // MARK: - Retry

    /// Runs `body` with the connection under the lock; on a transient failure reconnects and retries with
    /// exponential backoff. `body` must be a whole transaction and idempotent.
    func withRetry<T>(_ operation: String, _ body: (PostgresConnection) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        var attempt = 0
        while true {
            do {
                if !connection.isHealthy { try connection.connect() }
                return try body(connection)
            } catch let error as PreferenceError where error.isTransient {
                attempt += 1
                if attempt >= retry.maxAttempts {
                    throw PreferenceError.retriesExhausted(attempts: attempt, last: error.description)
                }
                let delay = retry.delay(attempt: attempt)
                logger.warning("transient database failure; retrying", metadata: [
                    "operation": "\(operation)", "attempt": "\(attempt)", "delay_s": "\(delay)", "error": "\(error)"])
                Thread.sleep(forTimeInterval: delay)
                if case .database(let state, _, _) = error, let state, state.hasPrefix("40") { continue }
                try? connection.connect()
            }
        }
    }
}

// MARK: - Retry policy

/// Exponential backoff: `initialDelay * 2^(attempt-1)` capped at `maxDelay`, at most `maxAttempts` tries.
public struct RetryPolicy: Sendable {
    public var maxAttempts: Int
    /// Seconds before the first retry.
    public var initialDelay: Double
    /// Seconds, the longest wait between tries.
    public var maxDelay: Double

    public init(maxAttempts: Int, initialDelay: Double, maxDelay: Double) {
        self.maxAttempts = maxAttempts
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
    }

    /// 20 tries, 0.05 s doubling to 2 s (about 30 s in all: long enough for a server restart).
    public static let `default` = RetryPolicy(maxAttempts: 20, initialDelay: 0.05, maxDelay: 2)
    /// No retries.
    public static let none = RetryPolicy(maxAttempts: 1, initialDelay: 0, maxDelay: 0)

    func delay(attempt: Int) -> Double { min(maxDelay, initialDelay * pow(2, Double(attempt - 1))) }
}
