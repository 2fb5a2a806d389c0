import ArgumentParser
import Foundation
import Pipeline

/// `rlhf runs`: the runs recorded in the work directory, newest first.
struct RunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runs", abstract: "List runs, newest first.")

    @OptionGroup var options: WorkdirOptions

    @Option(name: .long, help: "Show at most N runs.")
    var limit: Int = 20

    func run() throws {
        try reportingErrors {
            let store = try options.open()
            try store.reapStale()
            let runs = try store.runs(limit: limit)
            var rows: [[String]] = []
            var json: [[String: Any]] = []
            for r in runs {
                let stages = try store.stageRuns(run: r.id)
                let counts = Dictionary(grouping: stages, by: \.state).mapValues(\.count)
                let countText = RunState.allCases.compactMap { s in counts[s].map { "\($0) \(s.rawValue)" } }.joined(separator: ", ")
                rows.append([String(r.id), r.pipeline, r.state.rawValue, formatTime(r.started),
                             formatSeconds(r.ended.map { $0 - r.started }), countText])
                json.append(["run": r.id, "pipeline": r.pipeline, "file": r.file, "state": r.state.rawValue, "started": r.started,
                             "ended": r.ended ?? NSNull(), "stages": counts.reduce(into: [String: Int]()) { $0[$1.key.rawValue] = $1.value },
                             "error": r.error ?? NSNull()])
            }
            if options.json { print(jsonLine(["runs": json])); return }
            print(renderTable(["RUN", "PIPELINE", "STATE", "STARTED", "DURATION", "STAGES"], rows))
        }
    }
}
