import ArgumentParser
import Dispatch
import Foundation
import Preferences

/// `rlhf prefs bench`: labels per second with N concurrent writers (a benchmark, not a test; hidden from help).
///
/// Queues `--comparisons` synthetic comparisons in a fresh dataset with overlap `--overlap`, then runs
/// `--writers` annotators, each on its own connection, doing lease + label (two transactions) until the
/// pool is empty. Prints JSON: writers, labels, seconds, labels_per_second.
struct PrefsBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark: labels/s with concurrent writers on a fresh dataset.",
        shouldDisplay: false)

    @Option(help: "Concurrent annotator connections.") var writers = 16
    @Option(help: "Comparisons to queue.") var comparisons = 4000
    @Option(help: "Distinct annotators per comparison.") var overlap = 2
    @OptionGroup var database: DatabaseOptions

    func run() throws {
        let store = try database.connectMigrated("rlhf.bench")
        let dataset = "bench-\(UUID().uuidString.prefix(8))"
        let g = { (t: String) in GeneratedResponse(text: t, modelDigest: "bench", generationParams: ["temperature": 1]) }
        _ = try store.enqueueComparisons(dataset: dataset, pairs: (0..<comparisons).map { (prompt: "prompt \($0)", a: g("a \($0)"), b: g("b \($0)")) })
        try store.ensureDataset(dataset, overlap: overlap)
        let lock = NSLock()
        var labels = 0
        var failures: [String] = []
        let start = DispatchTime.now()
        DispatchQueue.concurrentPerform(iterations: writers) { w in
            do {
                let s = try database.connect("rlhf.bench.\(w)")
                var n = 0
                while let a = try s.nextAssignment(annotator: "bench-\(w)", dataset: dataset) {
                    try s.submitLabel(LabelSubmission(comparisonId: a.comparisonId, annotator: "bench-\(w)",
                                                      choice: [.a, .b, .tie][n % 3], shownFirst: .a))
                    n += 1
                }
                lock.lock(); labels += n; lock.unlock()
            } catch {
                lock.lock(); failures.append("\(error)"); lock.unlock()
            }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        if !failures.isEmpty { throw CLIError("benchmark writers failed: \(failures.prefix(3).joined(separator: "; "))") }
        emit(#"{"dataset": "\#(dataset)", "writers": \#(writers), "labels": \#(labels), "seconds": \#(String(format: "%.3f", seconds)), "labels_per_second": \#(String(format: "%.1f", Double(labels) / seconds))}"#)
    }
}
