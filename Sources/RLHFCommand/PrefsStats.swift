import ArgumentParser
import Foundation
import Preferences

/// `rlhf prefs stats [--dataset NAME] [--json]`.
struct PrefsStats: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Counts per dataset, annotator and choice; Cohen's and Fleiss' kappa; agreement with the majority.")

    @Option(help: "Only this dataset.") var dataset: String?
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var database: DatabaseOptions

    func run() throws {
        let store = try database.connectMigrated("rlhf.prefs")
        let stats = try store.stats(dataset: dataset)
        if json { emit(try jsonString(stats)); return }
        func f(_ x: Double?) -> String { x.map { String(format: "%.3f", $0) } ?? "n/a" }
        func counts(_ c: ChoiceCounts) -> String { "a \(c.a)  b \(c.b)  tie \(c.tie)  skip \(c.skip)" }
        if stats.isEmpty { emit("no datasets; import one with `rlhf prefs import FILE --format hh-rlhf --dataset NAME`") }
        for s in stats {
            emit("dataset \(s.dataset): \(s.comparisons) comparisons (overlap \(s.overlap)), \(s.labelledComparisons) labelled; labels: \(counts(s.choices))")
            emit("  Fleiss' kappa: \(f(s.fleissKappa)) over \(s.fleissItems) comparisons with 2+ labels")
            for a in s.annotators {
                emit("  \(a.annotator): \(counts(a.choices)); agreement with majority \(f(a.agreementWithMajority)) (\(a.majorityItems) items)")
            }
            for p in s.annotatorPairs {
                emit("  \(p.annotator1) vs \(p.annotator2): Cohen's kappa \(f(p.cohensKappa)), agreement \(f(p.agreement)) on \(p.sharedItems) shared")
            }
        }
    }
}
