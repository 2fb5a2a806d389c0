import ArgumentParser
import Foundation
import Preferences

/// `rlhf prefs import FILE --format ... --dataset NAME`.
struct PrefsImport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import comparisons from a JSONL file (idempotent: re-importing adds nothing).",
        discussion: """
            Formats (JSON Schemas in annotations/schemas/):
              hh-rlhf        {"chosen": transcript, "rejected": transcript}; split at the last "\\n\\nAssistant:"
              trl            {"prompt": ..., "chosen": ..., "rejected": ...}
              asqa-feedback  FineGrainedRLHF: question, prediction 1..4, preference (6 pairwise values, 0 = tie)
            Imported judgements become labels by the annotator import:<format>; with --unlabeled the pairs wait
            for `rlhf label`.
            """)

    @Argument(help: "The JSONL file.") var file: String
    @Option(help: "hh-rlhf, trl or asqa-feedback.") var format: ImportFormatArgument
    @Option(help: "Dataset name (created if missing).") var dataset: String
    @Option(help: "Distinct annotators per comparison for `rlhf label` (default: keep, 1 for a new dataset).") var overlap: Int?
    @Flag(help: "Store comparisons without their labels.") var unlabeled = false
    @Flag(help: "All or nothing: any invalid line aborts the import.") var strict = false
    @Flag(help: "Print the report as JSON.") var json = false
    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        if let overlap, overlap < 1 { throw ValidationError("--overlap must be at least 1") }
        guard FileManager.default.isReadableFile(atPath: file) else { throw ValidationError("cannot read \(file); pass an existing JSONL file") }
    }

    func run() throws {
        let store = try database.connectMigrated("rlhf.prefs")
        let fmt = ImportFormat(rawValue: format.rawValue)!
        let report = try store.importFile(URL(fileURLWithPath: file), format: fmt, dataset: dataset, unlabeled: unlabeled, strict: strict)
        if let overlap { try store.ensureDataset(dataset, overlap: overlap) }
        if json { emit(try jsonString(report)); return }
        emit("\(file): \(report.lines) lines, \(report.records) comparisons read; \(report.comparisonsAdded) added, "
             + "\(report.comparisonsExisting) already stored, \(report.labelsAdded) labels added (dataset \(dataset))")
        for issue in report.invalid.prefix(20) { emitError("\(file):\(issue.line): invalid: \(issue.message)") }
        if report.invalid.count > 20 { emitError("... \(report.invalid.count - 20) more invalid lines") }
        for issue in report.skipped.prefix(20) { emitError("\(file):\(issue.line): skipped: \(issue.message)") }
        if !report.invalid.isEmpty { throw ExitCode(1) }
    }
}
