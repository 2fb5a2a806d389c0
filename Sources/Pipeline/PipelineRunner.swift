import Foundation
import Logging

// MARK: - Runner

/// Runs a validated pipeline: topological order, independent stages concurrently, cached stages served
/// from `<workdir>/artifacts`, a failure skipping its dependents.
///
/// Cache key (see `cacheKey`): SHA-256 over the canonical JSON of kind, kind version, parameters, seed,
/// the artifact digests of `needs` and the digests of other inputs. Because the key uses the *content*
/// digest of upstream artifacts, a re-run that produces byte-identical output leaves dependents cached
/// (early cut-off).
public final class PipelineRunner: @unchecked Sendable {
    public let pipeline: ValidatedPipeline
    public let store: PipelineStore
    let logger: Logger
    let events: @Sendable (RunEvent) -> Void
    /// Set to cancel the run (e.g. from a SIGINT handler); running stages see `context.isCancelled`.
    public let cancellation = CancellationFlag()
    /// Results and resolved inputs of this run's stages, for each stage's `StageContext.lineage`.
    let book = LineageBook()
    /// `RunOptions.threads` of the current run (each `StageContext.threads`; not in any cache key).
    private var threads = StageContext.defaultThreads

    /// - Parameters:
    ///   - pipeline: the validated pipeline.
    ///   - store: the work directory's store.
    ///   - logger: orchestrator messages; stage loggers write to their log file and to this handler.
    ///   - events: progress callback (called from any thread).
    public init(pipeline: ValidatedPipeline, store: PipelineStore, logger: Logger,
                events: @escaping @Sendable (RunEvent) -> Void = { _ in }) {
        self.pipeline = pipeline
        self.store = store
        self.logger = logger
        self.events = events
    }

    /// Runs the pipeline; never throws for a stage failure (see the summary's states).
    /// - Returns: the run's id and per-stage results in topological order.
    /// - Throws: `PipelineError.database` when the store fails; `PipelineError.notFound` for an unknown
    ///   stage in `force`, `until` or `only`.
    public func run(_ options: RunOptions) async throws -> RunSummary {
        threads = options.threads
        for name in options.force.sorted() + options.until + options.only where pipeline.stage(name) == nil {
            throw PipelineError.notFound(what: "stage '\(name)'",
                                         fix: "use one of: \(pipeline.stages.map(\.name).joined(separator: ", "))")
        }
        let reaped = try store.reapStale()
        for r in reaped {
            events(.warning("stage '\(r.stage)' of run \(r.runId) was left running by a dead process (pid \(r.pid ?? 0) on \(r.host ?? "?")); marked interrupted"))
        }
        // Which stages take part, and which may only be served from the cache.
        var selected = Set(pipeline.stages.map(\.name))
        var cacheOnly: Set<String> = []
        if !options.until.isEmpty { selected = pipeline.closure(of: options.until) }
        if !options.only.isEmpty {
            selected = pipeline.closure(of: options.only)
            cacheOnly = selected.subtracting(options.only)
        }
        let order = pipeline.stages.filter { selected.contains($0.name) }
        let runID = options.dryRun ? 0 : try store.startRun(pipeline: pipeline.spec.name, file: pipeline.spec.file.path)
        events(.started(runID: runID))
        // A timer on a Dispatch queue, not a task: CPU-bound stages may occupy every cooperative thread.
        let heartbeat = DispatchSource.makeTimerSource(queue: .global())
        heartbeat.schedule(deadline: .now() + 5, repeating: 5)
        heartbeat.setEventHandler { [store] in if runID > 0 { try? store.heartbeat(run: runID) } }
        heartbeat.resume()
        defer { heartbeat.cancel() }

        var results: [String: StageResult] = [:]
        var pending = order
        let jobs = max(1, options.jobs)
        await withTaskGroup(of: StageResult.self) { group in
            var running = 0
            while true {
                // Start every ready stage, up to `jobs`.
                var progressed = true
                while progressed {
                    progressed = false
                    for (i, stage) in pending.enumerated() {
                        let needsDone = stage.needs.allSatisfy { results[$0] != nil || !selected.contains($0) }
                        guard needsDone else { continue }
                        let upstream = stage.needs.compactMap { results[$0] }
                        if let bad = upstream.first(where: { $0.state == .failed || $0.state == .skipped }) {
                            let r = StageResult(name: stage.name, kind: stage.kind.name, state: .skipped, seconds: 0, metrics: [:],
                                                error: "needs '\(bad.name)', which \(bad.state == .failed ? "failed" : "was skipped")")
                            results[stage.name] = r
                            book.record(r)
                            if !options.dryRun { recordSkipped(r, runID: runID) }
                            events(.stageFinished(r))
                            pending.remove(at: i)
                            progressed = true
                            break
                        }
                        guard running < jobs else { break }
                        pending.remove(at: i)
                        running += 1
                        let inputs = Dictionary(upstream.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
                        let mode: Mode = cacheOnly.contains(stage.name) ? .cacheOnly : (options.force.contains(stage.name) ? .force : .normal)
                        group.addTask { await self.execute(stage, inputs: inputs, runID: runID, mode: mode, dryRun: options.dryRun) }
                        progressed = true
                        break
                    }
                }
                guard running > 0, let r = await group.next() else { break }
                running -= 1
                results[r.name] = r
                book.record(r)
                events(.stageFinished(r))
            }
        }
        let ordered = order.compactMap { results[$0.name] }
        let summary = RunSummary(runID: runID, stages: ordered)
        if !options.dryRun {
            let failed = ordered.filter { $0.state == .failed }
            try store.finishRun(runID, state: failed.isEmpty ? .succeeded : .failed,
                                error: failed.isEmpty ? nil : "failed: " + failed.map(\.name).joined(separator: ", "))
        }
        return summary
    }

    enum Mode { case normal, force, cacheOnly }

    private func recordSkipped(_ r: StageResult, runID: Int64) {
        if let id = try? store.insertStageRun(run: runID, stage: r.name, kind: r.kind, key: nil, state: .skipped, logPath: nil, headline: []) {
            try? store.finishStageRun(id, state: .skipped, error: r.error)
        }
    }

    // MARK: - One stage

    /// Resolves, looks up, locks, runs and stores one stage; converts every error into a failed result.
    func execute(_ stage: ValidatedStage, inputs: [String: StageResult], runID: Int64, mode: Mode, dryRun: Bool) async -> StageResult {
        let start = Date()
        var result = StageResult(name: stage.name, kind: stage.kind.name, state: .failed, seconds: 0, metrics: [:])
        let logDir = store.workdir.appendingPathComponent("logs").appendingPathComponent(dryRun ? "dry-run" : "run-\(runID)")
        try? FileManager.default.createDirectory(at: logDir, withIntermediateDirectories: true)
        let logFile = logDir.appendingPathComponent("\(stage.name).log")
        result.log = logFile.path
        let fileHandler = FileLogHandler(url: logFile, label: stage.name)
        let base = logger.handler
        var stageLogger = Logger(label: "rlhf.stage.\(stage.name)") { _ in MultiplexLogHandler([fileHandler, base]) }
        stageLogger[metadataKey: "stage"] = "\(stage.name)"
        let fileLogger = Logger(label: "rlhf.stage.\(stage.name)") { _ in fileHandler }
        do {
            // 1. Inputs and key.
            var inputURLs: [String: URL] = [:]
            var needDigests: [String: String] = [:]
            for need in stage.needs {
                guard let r = inputs[need], let digest = r.artifact, let path = r.path else {
                    if dryRun { result.state = .wouldRun; result.error = "needs '\(need)', which would run"; return finish(result, start) }
                    throw PipelineError.stageFailed(stage: stage.name, message: "input '\(need)' has no artifact", log: nil)
                }
                inputURLs[need] = URL(fileURLWithPath: path)
                needDigests[need] = digest
            }
            let (key, snapshot) = try await resolveKey(stage, needDigests: needDigests, inputURLs: inputURLs,
                                                       logFile: logFile, logger: stageLogger, runID: runID)
            result.key = key
            let cacheable = stage.kind.cacheable && stage.params["cache"] != .bool(false)

            // 2. Cache lookup.
            if mode != .force, cacheable, let hit = try lookup(key: key, stage: stage) {
                return try served(hit, stage: stage, key: key, runID: runID, dryRun: dryRun, result: result, start: start)
            }
            if mode == .cacheOnly {
                result.state = .skipped
                result.error = "not cached; run it first (without --only), e.g. `--until \(stage.name)`"
                if !dryRun { recordSkipped(result, runID: runID) }
                return finish(result, start)
            }
            if dryRun { result.state = .wouldRun; return finish(result, start) }

            // 3. One process per key: wait for a concurrent run of the same stage, then look again.
            let lock = FileLock(store.workdir.appendingPathComponent("locks/\(key).lock"))
            try await lock.lock { events(.waitingForLock(stage: stage.name)) }
            defer { lock.unlock() }
            if mode != .force, cacheable, let hit = try lookup(key: key, stage: stage) {
                return try served(hit, stage: stage, key: key, runID: runID, dryRun: dryRun, result: result, start: start)
            }

            // 4. Run.
            return try await runStage(stage, key: key, snapshot: snapshot, inputURLs: inputURLs, needDigests: needDigests,
                                      runID: runID, logFile: logFile, logger: stageLogger, result: result, start: start)
        } catch {
            result.state = .failed
            result.error = (error as? PipelineError)?.description ?? (error is CancellationError ? "cancelled" : "\(error)")
            fileLogger.error("stage failed", metadata: ["error": "\(result.error ?? "")"])
            return finish(result, start)
        }
    }

    private func finish(_ r: StageResult, _ start: Date) -> StageResult {
        var r = r
        r.seconds = Date().timeIntervalSince(start)
        return r
    }

    /// Computes the cache key; stores a snapshot written by `resolveInputs` as an artifact.
    func resolveKey(_ stage: ValidatedStage, needDigests: [String: String], inputURLs: [String: URL],
                    logFile: URL, logger: Logger, runID: Int64) async throws -> (String, ArtifactRecord?) {
        let staging = store.workdir.appendingPathComponent("tmp/snapshot-\(stage.name)-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: staging) }
        let ctx = StageContext(stageName: stage.name, runID: runID, params: stage.params, seed: stage.seed,
                               pipelineDirectory: pipeline.spec.directory, inputs: inputURLs, outputDirectory: staging,
                               checkpointDirectory: staging, snapshotDirectory: staging, logFile: logFile, logger: logger,
                               metrics: MetricsRecorder(), cancellation: cancellation, threads: threads)
        var resolved = try await stage.kind.init().resolveInputs(ctx)
        for (name, url) in stage.pathInputs {
            resolved.append(ResolvedInput(name: name, digest: try ContentDigest.of(url)))
        }
        var snapshot: ArtifactRecord?
        if let contents = try? FileManager.default.contentsOfDirectory(atPath: staging.path), !contents.isEmpty {
            snapshot = try storeArtifact(from: staging, kind: "snapshot:\(stage.kind.name)", stage: stage.name, stageRunID: nil)
            resolved.append(ResolvedInput(name: "snapshot", digest: snapshot!.digest))
        }
        book.record(inputs: resolved, of: stage.name)
        return (Self.cacheKey(kind: stage.kind.name, version: stage.kind.version, params: stage.params, seed: stage.seed,
                              needs: needDigests, inputs: resolved), snapshot)
    }

    /// The cache key: SHA-256 hex of the canonical JSON
    /// `{"inputs":{name:digest},"kind":K,"needs":{stage:digest},"params":{...},"seed":S,"version":V}`.
    public static func cacheKey(kind: String, version: String, params: ResolvedParameters, seed: UInt64,
                                needs: [String: String], inputs: [ResolvedInput]) -> String {
        let doc: ParameterValue = .map([
            "kind": .string(kind), "version": .string(version), "params": .map(params.values),
            "seed": .string(String(seed)),
            "needs": .map(needs.mapValues { .string($0) }),
            "inputs": .map(Dictionary(inputs.map { ($0.name, ParameterValue.string($0.digest)) }, uniquingKeysWith: { a, _ in a })),
        ])
        return ContentDigest.sha256Hex(doc.canonicalJSON)
    }

    /// The verified cache entry for `key`, or nil (a corrupt or missing artifact is evicted and quarantined).
    func lookup(key: String, stage: ValidatedStage) throws -> (artifact: ArtifactRecord, stageRunID: Int64)? {
        guard let hit = try store.cacheEntry(key: key) else { return nil }
        switch ArtifactVerifier.verify(hit.artifact, store: store, full: false) {
        case .ok: return hit
        case .corrupt(let reason):
            events(.warning("artifact \(hit.artifact.digest.prefix(12)) of stage '\(stage.name)' is corrupt (\(reason)); evicted, the stage re-runs"))
            try ArtifactVerifier.evict(hit.artifact, store: store)
            return nil
        }
    }

    private func served(_ hit: (artifact: ArtifactRecord, stageRunID: Int64), stage: ValidatedStage, key: String, runID: Int64,
                        dryRun: Bool, result: StageResult, start: Date) throws -> StageResult {
        var result = result
        result.state = .cached
        result.artifact = hit.artifact.digest
        result.path = store.artifactURL(hit.artifact.digest).path
        result.metrics = try store.lastMetrics(stageRunID: hit.stageRunID)
        let source = try store.stageRun(hit.stageRunID)
        result.headline = source?.headlineNames ?? stage.kind.headlineMetrics
        result.log = source?.logPath
        if !dryRun {
            let id = try store.insertStageRun(run: runID, stage: stage.name, kind: stage.kind.name, key: key, state: .cached,
                                              logPath: source?.logPath, headline: result.headline)
            try store.finishStageRun(id, state: .cached, cached: true, artifact: hit.artifact.digest, source: hit.stageRunID)
        }
        return finish(result, start)
    }

    private func runStage(_ stage: ValidatedStage, key: String, snapshot: ArtifactRecord?, inputURLs: [String: URL],
                          needDigests: [String: String], runID: Int64, logFile: URL, logger: Logger,
                          result: StageResult, start: Date) async throws -> StageResult {
        var result = result
        let fm = FileManager.default
        let output = store.workdir.appendingPathComponent("tmp/out-\(stage.name)-\(getpid())-\(UUID().uuidString)")
        let checkpoint = store.workdir.appendingPathComponent("checkpoints/\(key)")
        try fm.createDirectory(at: output, withIntermediateDirectories: true)
        try fm.createDirectory(at: checkpoint, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: output) }
        let metrics = MetricsRecorder(headline: stage.kind.headlineMetrics)
        let stageRunID = try store.insertStageRun(run: runID, stage: stage.name, kind: stage.kind.name, key: key, state: .running,
                                                  logPath: logFile.path, headline: metrics.headlineNames)
        events(.stageStarted(stage: stage.name, kind: stage.kind.name, log: logFile.path))
        logger.info("stage started", metadata: ["kind": "\(stage.kind.name)", "key": "\(key)", "run": "\(runID)"])
        let events = self.events
        let ctx = StageContext(stageName: stage.name, runID: runID, params: stage.params, seed: stage.seed,
                               pipelineDirectory: pipeline.spec.directory, inputs: inputURLs, outputDirectory: output,
                               checkpointDirectory: checkpoint,
                               snapshotDirectory: snapshot.map { store.artifactURL($0.digest) },
                               logFile: logFile, logger: logger, metrics: metrics,
                               progress: { events(.progress($0)) }, cancellation: cancellation,
                               lineage: book.lineage(of: stage, in: pipeline), threads: threads)
        let flusher = Task.detached { [store] in
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: 2_000_000_000)
                try? store.addMetrics(metrics.drain(), run: runID, stageRunID: stageRunID, stage: stage.name)
            }
        }
        do {
            try await stage.kind.init().run(ctx)
            flusher.cancel()
            try store.addMetrics(metrics.drain(), run: runID, stageRunID: stageRunID, stage: stage.name)
            try ctx.checkCancellation()
            let artifact = try storeArtifact(from: output, kind: stage.kind.name, stage: stage.name, stageRunID: stageRunID, key: key)
            var lineage: [(artifact: String, role: String, name: String?)] = needDigests.map { ($0.value, "input", $0.key) }
            if let snapshot { lineage.append((snapshot.digest, "snapshot", nil)) }
            lineage.append((artifact.digest, "output", nil))
            try store.addLineage(stageRunID: stageRunID, lineage)
            try store.finishStageRun(stageRunID, state: .succeeded, artifact: artifact.digest, headline: metrics.headlineNames)
            try? fm.removeItem(at: checkpoint)
            logger.info("stage succeeded", metadata: ["artifact": "\(artifact.digest)"])
            result.state = .succeeded
            result.artifact = artifact.digest
            result.path = store.artifactURL(artifact.digest).path
            result.metrics = metrics.last
            result.headline = metrics.headlineNames
            return finish(result, start)
        } catch {
            flusher.cancel()
            try? store.addMetrics(metrics.drain(), run: runID, stageRunID: stageRunID, stage: stage.name)
            let message = (error as? PipelineError)?.description ?? (error is CancellationError ? "cancelled" : "\(error)")
            try? store.finishStageRun(stageRunID, state: error is CancellationError ? .interrupted : .failed, error: message,
                                      headline: metrics.headlineNames)
            result.metrics = metrics.last
            result.headline = metrics.headlineNames
            throw error
        }
    }

    /// Hashes `directory`, renames it into `artifacts/<digest>` (or drops it when that digest is already
    /// stored) and records it (with `key` in the cache when given).
    func storeArtifact(from directory: URL, kind: String, stage: String, stageRunID: Int64?, key: String? = nil) throws -> ArtifactRecord {
        let (digest, manifest) = try ContentDigest.tree(directory)
        let dest = store.artifactURL(digest)
        let fm = FileManager.default
        var finalManifest = manifest
        if fm.fileExists(atPath: dest.path) {
            if let existing = try store.artifact(digest), case .ok = ArtifactVerifier.verify(existing, store: store, full: false) {
                finalManifest = (try? JSONDecoder().decode(ArtifactManifest.self, from: Data(existing.manifest.utf8))) ?? manifest
            } else {
                // An unrecorded or damaged directory at this address: move it aside, keep the fresh one.
                let aside = store.workdir.appendingPathComponent("quarantine/\(digest)-\(UUID().uuidString)")
                try fm.moveItem(at: dest, to: aside)
                ArtifactManifest.makeReadOnly(directory, manifest)
                try fm.moveItem(at: directory, to: dest)
            }
        } else {
            ArtifactManifest.makeReadOnly(directory, manifest)
            try fm.moveItem(at: directory, to: dest)
        }
        let manifestJSON = String(decoding: try JSONEncoder().encode(finalManifest), as: UTF8.self)
        let record = ArtifactRecord(digest: digest, kind: kind, stage: stage, path: "artifacts/\(digest)", bytes: finalManifest.bytes,
                                    files: finalManifest.entries.filter { $0.type == .file }.count, manifest: manifestJSON,
                                    created: Date().timeIntervalSince1970, stageRunId: stageRunID)
        try store.recordArtifact(record, key: key, stageRunID: stageRunID ?? 0)
        return try store.artifact(digest) ?? record
    }
}
