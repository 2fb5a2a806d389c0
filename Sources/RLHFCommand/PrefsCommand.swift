import ArgumentParser

/// `rlhf prefs`: human comparisons in PostgreSQL.
struct PrefsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prefs",
        abstract: "Import, export and summarise human pairwise comparisons.",
        subcommands: [PrefsImport.self, PrefsExport.self, PrefsStats.self, PrefsBench.self])
}

extension ImportFormatArgument: ExpressibleByArgument {}

/// The `--format` values of `rlhf prefs import`.
enum ImportFormatArgument: String, CaseIterable {
    case hhRLHF = "hh-rlhf", trl, asqaFeedback = "asqa-feedback"
}
