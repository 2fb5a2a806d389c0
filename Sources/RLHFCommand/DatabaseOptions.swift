import ArgumentParser
import Foundation
import Logging
import Preferences

/// Options shared by the commands that talk to PostgreSQL.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("database-url"),
            help: "libpq URL of the PostgreSQL server (default: $RLHF_DATABASE_URL).")
    var databaseURL: String?

    @Flag(name: .long, help: "Log debug details to stderr.")
    var verbose = false

    /// A stderr logger (warnings, or debug with --verbose).
    func logger(_ label: String) -> Logger {
        var logger = Logger(label: label, factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = verbose ? .debug : .warning
        return logger
    }

    /// Connects; the error names the server tried and how to start one.
    func connect(_ label: String) throws -> PreferenceStore {
        guard let url = databaseURL ?? ProcessInfo.processInfo.environment["RLHF_DATABASE_URL"], !url.isEmpty else {
            throw ValidationError("""
                no database: set RLHF_DATABASE_URL or pass --database-url. Start a local server with
                  deploy/local-postgres.sh start /tmp/rlhf-pg 55432
                and export RLHF_DATABASE_URL=<the URL it prints>.
                """)
        }
        return try PreferenceStore(url: url, logger: logger(label))
    }

    /// Connects and checks the schema is migrated.
    func connectMigrated(_ label: String) throws -> PreferenceStore {
        let store = try connect(label)
        guard try !store.appliedMigrations().isEmpty else {
            throw CLIError("the database at \(store.location) has no preference schema yet; run `rlhf db migrate` first")
        }
        return store
    }
}

/// Writes `text` to stdout (the CLI is the only layer that prints).
func emit(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// Writes `text` to stderr.
func emitError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Pretty, sorted JSON of an Encodable value.
func jsonString<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

/// A runtime failure of a command, printed as `Error: <message>` with exit status 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
