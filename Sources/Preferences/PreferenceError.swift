import Foundation

// MARK: - Errors

/// Errors of the preference store; each message says what failed, where, and how to fix it.
public enum PreferenceError: Error, CustomStringConvertible, Equatable {
    /// The server could not be reached at `location` (`host:port/db`, never the password).
    case connectionFailed(location: String, message: String)
    /// A statement failed on the server (`sqlState` is the SQLSTATE code when known).
    case database(sqlState: String?, message: String, query: String)
    /// A transient failure persisted through every retry.
    case retriesExhausted(attempts: Int, last: String)
    /// An import file has invalid lines (with `--strict`, nothing was imported).
    case invalidImport(file: String, issues: [ImportIssue])
    /// A file could not be read or written.
    case io(path: String, message: String)
    /// The named dataset does not exist.
    case unknownDataset(String)
    /// A value given by the caller is out of range (what, and what to supply).
    case invalidArgument(String)
    /// The annotator does not hold a lease for this comparison and the comparison is already full.
    case leaseLost(comparisonId: Int64, annotator: String)
    /// A snapshot file's digest does not match its content.
    case corruptSnapshot(path: String, expected: String, actual: String)

    public var description: String {
        switch self {
        case let .connectionFailed(location, message):
            return "cannot connect to PostgreSQL at \(location): \(message)\n"
                + "Start a local server with `deploy/local-postgres.sh start /tmp/rlhf-pg 55432` and set "
                + "RLHF_DATABASE_URL to the URL it prints (or pass --database-url)."
        case let .database(state, message, query):
            let q = query.split(separator: "\n").first.map(String.init) ?? query
            return "PostgreSQL error\(state.map { " \($0)" } ?? ""): \(message) (statement: \(q.prefix(120)))"
        case let .retriesExhausted(attempts, last):
            return "the database stayed unavailable through \(attempts) attempts; last error: \(last)"
        case let .invalidImport(file, issues):
            let shown = issues.prefix(10).map { "  \(file):\($0.line): \($0.message)" }.joined(separator: "\n")
            let more = issues.count > 10 ? "\n  ... and \(issues.count - 10) more" : ""
            return "\(issues.count) invalid line(s) in \(file); nothing was imported (--strict):\n\(shown)\(more)\n"
                + "Fix these lines, or import without --strict to skip them."
        case let .io(path, message):
            return "\(path): \(message)"
        case let .unknownDataset(name):
            return "no dataset named '\(name)'; import one with `rlhf prefs import FILE --format hh-rlhf --dataset \(name)`"
        case let .invalidArgument(message):
            return message
        case let .leaseLost(id, annotator):
            return "the lease of \(annotator) on comparison \(id) expired and other annotators filled it; the label was not stored"
        case let .corruptSnapshot(path, expected, actual):
            return "\(path): snapshot digest \(actual) does not match the recorded \(expected); re-create it with PreferenceStore.snapshot"
        }
    }

    /// Whether retrying on a fresh connection may succeed (connection loss, server shutdown, serialisation failure, deadlock).
    public var isTransient: Bool {
        switch self {
        case .connectionFailed: return true
        case let .database(state, _, _):
            guard let state else { return false }
            return state.hasPrefix("08") || ["57P01", "57P02", "57P03", "40001", "40P01", "53300"].contains(state)
        default: return false
        }
    }
}
