import ArgumentParser
import Foundation
import Pipeline

/// `rlhf report [RUN] --out DIR`: an offline HTML page with the run's metric curves as inline SVG.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write an HTML report of a run (default: the newest): loss curves, evaluation metrics, PPO reward and KL.",
        discussion: "The page (DIR/index.html) has no scripts or external resources: open it offline in any browser.")

    @Argument(help: ArgumentHelp("The run id (see `rlhf runs`).", valueName: "RUN"))
    var runID: Int64?

    @Option(name: .long, help: ArgumentHelp("The directory to write index.html into (created).", valueName: "DIR"))
    var out: String

    @OptionGroup var options: WorkdirOptions

    func run() throws {
        try reportingErrors {
            let store = try options.open()
            guard let record = try store.run(runID) else {
                throw PipelineError.notFound(what: runID.map { "run \($0)" } ?? "any run", fix: "list runs with `rlhf runs`")
            }
            let (r, sections) = try RunReport.sections(store: store, run: record.id)
            let dir = URL(fileURLWithPath: out)
            do {
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                let file = dir.appendingPathComponent("index.html")
                try Data(RunReport.html(run: r, sections: sections).utf8).write(to: file, options: .atomic)
                if options.json { print(jsonLine(["run": r.id, "path": file.path])) } else { print(file.path) }
            } catch {
                throw PipelineError.notFound(what: "writable directory \(dir.path)", fix: "choose another --out (\(error.localizedDescription))")
            }
        }
    }
}
