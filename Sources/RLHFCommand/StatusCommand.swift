import ArgumentParser
import Foundation
import Pipeline

/// `rlhf status [RUN]`: the stages of a run (default: the newest) with state, cache use, duration, metrics.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the stages of a run (default: the newest): state, cached, duration, headline metrics.")

    @Argument(help: ArgumentHelp("The run id (see `rlhf runs`).", valueName: "RUN"))
    var runID: Int64?

    @OptionGroup var options: WorkdirOptions

    func run() throws {
        try reportingErrors {
            let store = try options.open()
            try store.reapStale()
            guard let record = try store.run(runID) else {
                throw PipelineError.notFound(what: runID.map { "run \($0)" } ?? "any run", fix: "list runs with `rlhf runs`")
            }
            let stages = try store.stageRuns(run: record.id)
            var rows: [[String]] = []
            var jsonStages: [[String: Any]] = []
            for s in stages {
                let metrics = try store.lastMetrics(stageRunID: s.sourceStageRunId ?? s.id)
                let seconds: Double? = s.state == .running ? Date().timeIntervalSince1970 - (s.started ?? 0) : s.seconds
                rows.append([s.stage, s.state.rawValue, s.cached ? "yes" : "no", formatSeconds(seconds),
                             formatHeadline(s.headlineNames, metrics)])
                jsonStages.append([
                    "name": s.stage, "kind": s.kind, "state": s.state.rawValue, "cached": s.cached,
                    "artifact": s.artifact ?? NSNull(), "path": s.artifact.map { store.artifactURL($0).path } ?? NSNull(),
                    "seconds": seconds ?? NSNull(), "metrics": metrics, "headline": s.headlineNames,
                    "error": s.error ?? NSNull(), "log": s.logPath ?? NSNull(), "key": s.key ?? NSNull(),
                ])
            }
            if options.json {
                print(jsonLine(["run": record.id, "pipeline": record.pipeline, "file": record.file, "state": record.state.rawValue,
                                "started": record.started, "ended": record.ended ?? NSNull(), "stages": jsonStages]))
                return
            }
            print("run \(record.id)  \(record.pipeline)  \(record.state.rawValue)  started \(formatTime(record.started))"
                  + (record.ended.map { "  took \(formatSeconds($0 - record.started))" } ?? ""))
            print(renderTable(["STAGE", "STATE", "CACHED", "DURATION", "HEADLINE METRICS"], rows))
            for s in stages where s.error != nil && s.state != .skipped {
                print("\(s.stage): \(s.error ?? "")" + (s.logPath.map { "\n  log: \($0)" } ?? ""))
            }
        }
    }
}
