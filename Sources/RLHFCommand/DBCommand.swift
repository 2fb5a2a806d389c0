import ArgumentParser

/// `rlhf db`: database administration.
struct DBCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Manage the PostgreSQL database of human comparisons.",
        subcommands: [DBMigrate.self])
}
