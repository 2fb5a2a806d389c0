import ArgumentParser
import Foundation
import Logging
import Pipeline
import Tensors

/// `rlhf run PIPELINE.yaml`: runs the stages whose inputs changed; serves the rest from the cache.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a pipeline: only stages whose inputs changed run, the others are served from the cache.",
        discussion: """
            Stages run in topological order; independent stages run concurrently up to --jobs. A failed stage \
            stops its dependents and the command exits with status 1. With --json the last line printed \
            on standard output is one JSON object: {"run": ID, "stages": [{"name", "kind", "state", \
            "artifact", "path", "seconds", "metrics"}]}. See docs/pipelines.md for the file format.
            """)

    @Argument(help: ArgumentHelp("The pipeline file.", valueName: "PIPELINE.yaml"))
    var pipeline: String?

    @OptionGroup var options: WorkdirOptions

    @Option(name: .long, help: "Stages run concurrently at most.")
    var jobs: Int = 1

    @Option(name: .long, help: ArgumentHelp(
        "Compute threads of the stages that train or generate (default: $RLHF_NUM_THREADS, else the number of cores). Not part of any cache key: results are identical at any count.",
        valueName: "N"))
    var threads: Int?

    @Option(name: .long, help: ArgumentHelp("Re-run STAGE even when cached (repeatable).", valueName: "STAGE"))
    var force: [String] = []

    @Option(name: .long, help: ArgumentHelp("Run only STAGE and the stages it needs (repeatable).", valueName: "STAGE"))
    var until: [String] = []

    @Option(name: .long, help: ArgumentHelp("Run only STAGE; the stages it needs must be cached (repeatable).", valueName: "STAGE"))
    var only: [String] = []

    @Flag(name: .long, help: "Print what would run and what is cached; run nothing.")
    var dryRun = false

    @Flag(name: .long, help: "List the registered stage kinds and their parameters, then exit.")
    var listKinds = false

    @Flag(name: [.short, .long], help: "Also show the stages' log lines on the terminal.")
    var verbose = false

    func validate() throws {
        if pipeline == nil && !listKinds { throw ValidationError("give the pipeline file, e.g. `rlhf run pipelines/quickstart.yaml`") }
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    func run() async throws {
        let registry = StageRegistry.all()
        if listKinds {
            print(describeKinds(registry))
            return
        }
        let file = URL(fileURLWithPath: pipeline ?? "")
        let validated: ValidatedPipeline
        do {
            validated = try PipelineValidator.validate(try PipelineSpec.load(file), registry: registry)
        } catch let e as PipelineError {
            printError(e.description)
            throw ExitCode(2)
        }
        let store = try reportingErrors { try options.open(create: true) }
        var logger = Logger(label: "rlhf") { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = .info
            return h
        }
        logger.logLevel = verbose ? .info : .warning
        let terminal = TerminalProgress(json: options.json)
        let runner = PipelineRunner(pipeline: validated, store: store, logger: logger) { terminal.handle($0) }
        let opts = RunOptions(jobs: jobs, force: Set(force), until: until, only: only, dryRun: dryRun,
                              threads: threads ?? StageContext.defaultThreads)
        BLAS.setThreads(opts.threads)

        // Ctrl-C: cancel running stages (commands get SIGTERM), record them, exit non-zero.
        signal(SIGINT, SIG_IGN)
        let task = Task { try await reportingErrors { try await runner.run(opts) } }
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler {
            printError("interrupted: stopping running stages (checkpoints are kept; run again to resume)")
            runner.cancellation.set()
            task.cancel()
        }
        source.resume()
        let summary = try await task.value
        source.cancel()

        let human = summaryText(summary, dryRun: dryRun, workdir: store.workdir)
        if options.json {
            printError(human)
            print(summary.json)
        } else {
            print(human)
        }
        if !summary.succeeded || runner.cancellation.isSet { throw ExitCode.failure }
    }

    /// The end-of-run table: stage, state, cached, duration, headline metrics; then failures with their logs.
    func summaryText(_ summary: RunSummary, dryRun: Bool, workdir: URL) -> String {
        let rows = summary.stages.map { s in
            [s.name, s.state.rawValue, s.state == .cached ? "yes" : "no", formatSeconds(s.seconds), formatHeadline(s.headline, s.metrics)]
        }
        var out = dryRun ? "dry run (nothing was run):\n" : "run \(summary.runID):\n"
        out += renderTable(["STAGE", "STATE", "CACHED", "DURATION", "HEADLINE METRICS"], rows)
        for s in summary.stages where s.state == .failed || (s.state == .skipped && s.error != nil) {
            out += "\n\(s.name): \(s.state.rawValue): \(s.error ?? "")"
            if s.state == .failed, let log = s.log, !(s.error ?? "").contains("log:") { out += "\n  log: \(log)" }
        }
        let artifacts = summary.stages.filter { $0.path != nil }
        if !artifacts.isEmpty && !dryRun {
            out += "\nartifacts:"
            for s in artifacts { out += "\n  \(s.name): \(s.path ?? "")" }
        }
        if !dryRun { out += usageHints(summary) }
        return out
    }

    /// How to use what the run produced: talk to the last model, load the exports in transformers and
    /// llama.cpp (shown after runs whose export or model stages succeeded).
    func usageHints(_ summary: RunSummary) -> String {
        let done = summary.stages.filter { ($0.state == .succeeded || $0.state == .cached) && $0.path != nil }
        var out = ""
        if let export = done.last(where: { $0.kind == "export" }), let root = export.path {
            let fm = FileManager.default
            let hf = (root as NSString).appendingPathComponent("hf")
            let ggufDir = (root as NSString).appendingPathComponent("gguf")
            out += "\n\nexports:"
            if fm.fileExists(atPath: hf) {
                out += "\n  Hugging Face: \(hf)"
                out += "\n    rlhf generate --model \(hf) --prompt \"The capital of France is\" --temperature 0"
                out += "\n    python3 -c \"from transformers import AutoModelForCausalLM, AutoTokenizer; "
                    + "m = AutoModelForCausalLM.from_pretrained('\(hf)'); t = AutoTokenizer.from_pretrained('\(hf)')\""
            }
            if let files = try? fm.contentsOfDirectory(atPath: ggufDir), let gguf = files.sorted().first(where: { $0.hasSuffix(".gguf") }) {
                let path = (ggufDir as NSString).appendingPathComponent(gguf)
                out += "\n  GGUF: \(path)"
                out += "\n    llama-cli -m \(path) -p \"Hello\" -n 32   (or llama_cpp.Llama(model_path=...) in llama-cpp-python)"
            }
        } else if let model = done.last(where: { ["ppo", "dpo", "rag-inject", "pretrain"].contains($0.kind) }), let path = model.path {
            out += "\n\ntalk to the model: rlhf generate --model \(path) --prompt \"Hello\" --temperature 0.7"
        }
        return out
    }

    func describeKinds(_ registry: StageRegistry) -> String {
        registry.names.compactMap { registry.kind(named: $0) }.map { kind in
            var s = "\(kind.name) (version \(kind.version))\(kind.summary.isEmpty ? "" : ": " + kind.summary)"
            for p in kind.parameters.parameters {
                s += "\n  \(p.name): \(p.type)" + (p.defaultValue.map { " = \($0)" } ?? " (required)") + "  \(p.doc)"
            }
            return s
        }.joined(separator: "\n\n")
    }
}

/// Renders run events on standard error: one line per stage start/finish, throttled progress.
final class TerminalProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var lastProgress: [String: Date] = [:]
    let json: Bool

    init(json: Bool) { self.json = json }

    func handle(_ event: RunEvent) {
        switch event {
        case .started(let id):
            if id > 0 { printError("run \(id)") }
        case let .stageStarted(stage, kind, log):
            printError("▶ \(stage) (\(kind))  log: \(log)")
        case .waitingForLock(let stage):
            printError("… \(stage): another rlhf process is running this stage; waiting for its result")
        case .progress(let p):
            let show: Bool = lock.withLock {
                let now = Date()
                if let last = lastProgress[p.stage], now.timeIntervalSince(last) < 1 { return false }
                lastProgress[p.stage] = now
                return true
            }
            if show { printError("  \(p.stage): \(Int((p.fraction * 100).rounded()))% \(p.message)") }
        case .stageFinished(let r):
            let mark: String
            switch r.state {
            case .succeeded: mark = "✓"
            case .cached: mark = "="
            case .failed: mark = "✗"
            case .skipped: mark = "-"
            case .wouldRun: mark = "?"
            }
            var line = "\(mark) \(r.name) \(r.state.rawValue) \(formatSeconds(r.seconds))"
            let headline = formatHeadline(r.headline, r.metrics)
            if !headline.isEmpty { line += "  \(headline)" }
            if r.state == .failed, let e = r.error { line += "\n  \(e)" + (e.contains("log:") ? "" : "\n  log: \(r.log ?? "-")") }
            printError(line)
        case .warning(let w):
            printError("warning: \(w)")
        }
    }
}
