import Foundation

// MARK: - The `command` stage kind

/// A user-defined step, as in DVC: a shell command whose output directory becomes the artifact.
///
/// `run` is executed with `/bin/sh -c` in the pipeline file's directory with these variables set:
/// `RLHF_OUTPUT_DIR` (the artifact directory: empty, write into it), `RLHF_INPUT_<STAGE>` (the artifact
/// directory of each stage in `needs`, upper-cased with `-` and `.` as `_`), `RLHF_CHECKPOINT_DIR`
/// (survives interruption, for resumable commands), `RLHF_METRICS_FILE` (append JSON lines
/// `{"step": 1, "name": "loss", "value": 2.5}` or `{"step": 1, "loss": 2.5, ...}`), `RLHF_SEED`,
/// `RLHF_STAGE`. Standard output and error go to the stage's log. A non-zero exit fails the stage.
/// The command is killed when `rlhf` dies (`setpriv --pdeathsig`, when available).
public struct CommandStage: StageKind {
    public static let name = "command"
    public static let version = "1"
    public static let summary = "Run a shell command; its output directory is the artifact (DVC-like)."
    public static let parameters: ParameterSchema = [
        ParameterSpec("run", .string, required: "The shell command, run with `sh -c` in the pipeline file's directory."),
        ParameterSpec("deps", .list(.path), default: .list([]),
                      doc: "Files or directories the command reads; their content is part of the cache key."),
        ParameterSpec("env", .map, default: .map([:]), doc: "Extra environment variables (string values)."),
        ParameterSpec("headline", .list(.string), default: .list([]),
                      doc: "Names of metrics (from RLHF_METRICS_FILE) shown in run summaries."),
        ParameterSpec("cache", .bool, default: .bool(true),
                      doc: "Set false to run the command every time (its result is still stored)."),
    ]

    public init() {}

    public func run(_ context: StageContext) async throws {
        let command = try context.params.string("run")
        context.metrics.markHeadline(try context.params.strings("headline"))
        let metricsFile = context.logFile.deletingPathExtension().appendingPathExtension("metrics.jsonl")
        try? FileManager.default.removeItem(at: metricsFile)
        var env = ProcessInfo.processInfo.environment
        env["RLHF_OUTPUT_DIR"] = context.outputDirectory.path
        env["RLHF_CHECKPOINT_DIR"] = context.checkpointDirectory.path
        env["RLHF_METRICS_FILE"] = metricsFile.path
        env["RLHF_SEED"] = String(context.seed)
        env["RLHF_STAGE"] = context.stageName
        env["RLHF_PIPELINE_DIR"] = context.pipelineDirectory.path
        env["RLHF_NUM_THREADS"] = String(context.threads)  // `rlhf run --threads` (the stage's `env` may override it)
        for (name, url) in context.inputs { env[CommandStage.inputVariable(name)] = url.path }
        for (k, v) in try context.params.map("env") {
            if case .string(let s) = v { env[k] = s } else { env[k] = v.canonicalJSON }
        }
        context.logger.info("running command", metadata: ["run": "\(command)"])
        // Metrics are read while the command runs (so `rlhf status` shows them live) and once more at exit.
        let tail = MetricsFileTail(url: metricsFile, recorder: context.metrics)
        let poller = Task.detached {
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: 1_000_000_000)
                tail.poll()
            }
        }
        defer { poller.cancel() }
        let status = try await ChildProcess.run(shellCommand: command, directory: context.pipelineDirectory,
                                                environment: env, output: context.logFile, cancellation: context)
        poller.cancel()
        tail.poll()
        guard status == 0 else {
            throw PipelineError.stageFailed(stage: context.stageName,
                                            message: "command exited with status \(status): \(command)",
                                            log: context.logFile.path)
        }
    }

    /// The variable holding the artifact directory of `needs` stage `stage` (`reward-model` → `RLHF_INPUT_REWARD_MODEL`).
    public static func inputVariable(_ stage: String) -> String {
        "RLHF_INPUT_" + stage.uppercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
    }

    /// Parses one JSON line of metrics into `recorder`; malformed lines are skipped.
    static func parseMetricLine<S: StringProtocol>(_ line: S, into recorder: MetricsRecorder) {
        guard let obj = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else { return }
        let step = (obj["step"] as? NSNumber)?.intValue ?? 0
        if let name = obj["name"] as? String, let value = obj["value"] as? NSNumber {
            recorder.log(step: step, name: name, value: value.doubleValue)
        } else {
            for k in obj.keys.sorted() where k != "step" {
                if let n = obj[k] as? NSNumber { recorder.log(step: step, name: k, value: n.doubleValue) }
            }
        }
    }
}

/// Reads the complete lines appended to a metrics file since the last poll.
final class MetricsFileTail: @unchecked Sendable {
    let url: URL
    let recorder: MetricsRecorder
    private let lock = NSLock()
    private var offset: UInt64 = 0

    init(url: URL, recorder: MetricsRecorder) {
        self.url = url
        self.recorder = recorder
    }

    func poll() {
        lock.withLock {
            guard let handle = try? FileHandle(forReadingFrom: url) else { return }
            defer { try? handle.close() }
            guard (try? handle.seek(toOffset: offset)) != nil, let data = try? handle.readToEnd(), !data.isEmpty,
                  let lastNewline = data.lastIndex(of: UInt8(ascii: "\n")) else { return }
            let complete = data[data.startIndex...lastNewline]
            offset += UInt64(complete.count)
            for line in String(decoding: complete, as: UTF8.self).split(separator: "\n") {
                CommandStage.parseMetricLine(line, into: recorder)
            }
        }
    }
}

// MARK: - Child processes

/// Spawns `/bin/sh -c` on a dedicated thread (so that `--pdeathsig` is tied to a thread that lives as
/// long as the child) in its own process group, and waits for it.
enum ChildProcess {
    static let setpriv: String? = ["/usr/bin/setpriv", "/bin/setpriv"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Runs `shellCommand` in `directory`, output appended to `output`.
    /// - Returns: the exit status (128 + signal when killed).
    /// - Throws: `PipelineError.stageFailed` when the process cannot be spawned; `CancellationError` when cancelled.
    static func run(shellCommand: String, directory: URL, environment: [String: String], output: URL,
                    cancellation: StageContext) async throws -> Int32 {
        let script = "cd -- '\(directory.path.replacingOccurrences(of: "'", with: "'\\''"))' || exit 127\n" + shellCommand
        var argv = ["/bin/sh", "-c", script]
        if let setpriv { argv = [setpriv, "--pdeathsig", "KILL", "--"] + argv }
        let args = argv
        let pidBox = PidBox()
        let status: Int32 = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (cont: CheckedContinuation<Int32, Error>) in
                let thread = Thread {
                    do {
                        let pid = try spawn(args, environment: environment, output: output)
                        pidBox.set(pid)
                        var st: Int32 = 0
                        while waitpid(pid, &st, 0) < 0 && errno == EINTR {}
                        let code: Int32 = (st & 0x7f) == 0 ? (st >> 8) & 0xff : 128 + (st & 0x7f)
                        pidBox.set(0)
                        cont.resume(returning: code)
                    } catch {
                        cont.resume(throwing: error)
                    }
                }
                thread.name = "rlhf-command"
                thread.start()
            }
        } onCancel: {
            pidBox.terminate()
        }
        if cancellation.isCancelled { throw CancellationError() }
        return status
    }

    /// `posix_spawn` with stdout and stderr appended to `output`, stdin from /dev/null, in a new process group.
    static func spawn(_ argv: [String], environment: [String: String], output: URL) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output.path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attr, 0)
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, &attr, cArgs, cEnv)
        guard rc == 0 else {
            throw PipelineError.stageFailed(stage: "command", message: "cannot start \(argv[0]): \(String(cString: strerror(rc)))", log: nil)
        }
        return pid
    }
}

/// The pid of a running child, for cancellation.
final class PidBox: @unchecked Sendable {
    private let lock = NSLock()
    private var pid: pid_t = 0
    func set(_ p: pid_t) { lock.withLock { pid = p } }
    /// Sends SIGTERM to the child's process group, then SIGKILL after 5 s.
    func terminate() {
        let p = lock.withLock { pid }
        guard p > 0 else { return }
        kill(-p, SIGTERM)
        DispatchQueue.global().asyncAfter(deadline: .now() + 5) { [self] in
            let q = lock.withLock { pid }
            if q == p { kill(-p, SIGKILL) }
        }
    }
}
