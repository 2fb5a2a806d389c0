import ArgumentParser
import Foundation
import Pipeline

/// `rlhf metrics [RUN] [--stage S] [--name N ...] [--csv | --json]`: a stage's metric curves as a table
/// by step (several metrics side by side), or the metrics each stage recorded.
struct MetricsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Print a stage's metric curves by step (default run: the newest), e.g. objective/kl and eval/kl side by side.",
        discussion: """
            Without --stage: each stage's metrics with their number of points, step range and last value. \
            With --stage: one row per step and one column per metric (--name, repeatable or comma-separated; \
            a trailing * selects a prefix, e.g. 'eval/*'; default: every metric of the stage); '-' where a \
            metric has no point at that step. A cached stage shows the metrics of the run that produced it. \
            --csv prints CSV; --json prints {"run", "stage", "names", "rows": [{"step", NAME: value, ...}]}.
            Example: rlhf metrics --stage ppo --name objective/kl,objective/kl_coef,objective/scores,'eval/*'
            """)

    @Argument(help: ArgumentHelp("The run id (see `rlhf runs`).", valueName: "RUN"))
    var runID: Int64?

    @Option(name: .long, help: ArgumentHelp("The stage whose curves to print.", valueName: "STAGE"))
    var stage: String?

    @Option(name: .long, help: ArgumentHelp("Metric names or prefixes ending in * (repeatable, or comma-separated).", valueName: "NAME"))
    var name: [String] = []

    @Flag(name: .long, help: "Print CSV (step, then one column per metric) instead of a table.")
    var csv = false

    @OptionGroup var options: WorkdirOptions

    func validate() throws {
        if csv && options.json { throw ValidationError("choose one of --csv and --json") }
        if stage == nil && !name.isEmpty { throw ValidationError("--name needs --stage (list the stages' metrics with `rlhf metrics`)") }
    }

    func run() throws {
        try reportingErrors {
            let store = try options.open()
            guard let record = try store.run(runID) else {
                throw PipelineError.notFound(what: runID.map { "run \($0)" } ?? "any run", fix: "list runs with `rlhf runs`")
            }
            let stages = try store.stageRuns(run: record.id)
            guard let stage else {
                try listMetrics(store: store, run: record.id, stages: stages)
                return
            }
            guard let s = stages.first(where: { $0.stage == stage }) else {
                throw PipelineError.notFound(what: "stage '\(stage)' in run \(record.id)",
                                             fix: "stages of that run: \(stages.map(\.stage).joined(separator: ", "))")
            }
            let patterns = name.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }.filter { !$0.isEmpty }
            let history = try MetricHistory.select(try store.metrics(stageRunID: s.sourceStageRunId ?? s.id), names: patterns)
            if csv {
                print(history.csv, terminator: "")
            } else if options.json {
                let rows: [[String: Any]] = history.rows.map { r in
                    var o: [String: Any] = ["step": r.step]
                    for (n, v) in zip(history.names, r.values) { if let v { o[n] = v } }
                    return o
                }
                print(jsonLine(["run": record.id, "stage": stage, "names": history.names, "rows": rows]))
            } else {
                print(renderTable(["STEP"] + history.names,
                                  history.rows.map { r in [String(r.step)] + r.values.map { $0.map(formatMetric) ?? "-" } }))
            }
        }
    }

    /// Without --stage: every stage's metrics (points, step range, last value).
    func listMetrics(store: PipelineStore, run: Int64, stages: [StageRunRecord]) throws {
        var rows: [[String]] = []
        var json: [[String: Any]] = []
        for s in stages {
            let points = Dictionary(grouping: try store.metrics(stageRunID: s.sourceStageRunId ?? s.id), by: \.name)
            for n in points.keys.sorted() {
                let p = points[n]!.sorted { $0.step < $1.step }
                rows.append([s.stage, n, String(p.count), "\(p.first!.step)-\(p.last!.step)", formatMetric(p.last!.value)])
                json.append(["stage": s.stage, "name": n, "points": p.count, "first_step": p.first!.step,
                             "last_step": p.last!.step, "last": p.last!.value])
            }
        }
        if options.json { print(jsonLine(["run": run, "metrics": json])); return }
        print(renderTable(["STAGE", "METRIC", "POINTS", "STEPS", "LAST"], rows))
    }
}
