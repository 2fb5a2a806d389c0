import Foundation

// MARK: - Source locations

/// A position in a pipeline file (1-based line and column, as Yams/libyaml report them).
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:column`, the form compilers and editors understand.
    public var description: String { "\(file):\(line):\(column)" }
}

// MARK: - Errors

/// An error of the orchestrator: what went wrong, where, and how to fix it.
public enum PipelineError: Error, Sendable, CustomStringConvertible, LocalizedError {
    /// The pipeline file is invalid (YAML syntax, schema, DAG); `location` points at the offending node.
    case invalid(location: SourceLocation, message: String, fix: String)
    /// Several validation errors, reported together.
    case multiple([PipelineError])
    /// The pipeline file cannot be read.
    case unreadable(path: String, reason: String)
    /// The work directory's database cannot be opened or used (locked, not a database, ...).
    case database(path: String, message: String, fix: String)
    /// A stage parameter was missing or had the wrong type when a stage read it.
    case parameter(stage: String, name: String, message: String)
    /// A stage asked for an input (a `needs` entry) that it does not have.
    case missingInput(stage: String, name: String, available: [String])
    /// A stage failed while running; `log` is its log file.
    case stageFailed(stage: String, message: String, log: String?)
    /// A run, stage or artifact named on the command line does not exist.
    case notFound(what: String, fix: String)
    /// An artifact's content no longer matches its digest.
    case corruptArtifact(digest: String, path: String, reason: String)

    public var description: String {
        switch self {
        case let .invalid(location, message, fix):
            return "\(location): error: \(message)\n  fix: \(fix)"
        case let .multiple(errors):
            return errors.map(\.description).joined(separator: "\n")
        case let .unreadable(path, reason):
            return "\(path): error: cannot read pipeline file: \(reason)"
        case let .database(path, message, fix):
            return "\(path): error: \(message)\n  fix: \(fix)"
        case let .parameter(stage, name, message):
            return "stage '\(stage)': parameter '\(name)': \(message)"
        case let .missingInput(stage, name, available):
            return "stage '\(stage)': no input named '\(name)' (inputs: \(available.sorted().joined(separator: ", ")));"
                + " add '\(name)' to the stage's `needs`"
        case let .stageFailed(stage, message, log):
            return "stage '\(stage)' failed: \(message)" + (log.map { "\n  log: \($0)" } ?? "")
        case let .notFound(what, fix):
            return "\(what) not found; \(fix)"
        case let .corruptArtifact(digest, path, reason):
            return "artifact \(digest) at \(path) is corrupt: \(reason)"
        }
    }

    public var errorDescription: String? { description }
}
