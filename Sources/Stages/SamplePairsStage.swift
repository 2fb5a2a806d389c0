import Export
import Foundation
import Llama
import Logging
import Pipeline
import Preferences

// MARK: - The `sample-pairs` stage kind

/// Human in the loop: samples two completions per prompt from a model and queues them in PostgreSQL as
/// unlabelled comparisons for `rlhf label` (DESIGN.md, "human-in-the-loop"; Argilla's feedback loop).
///
/// The model is the artifact of its one `needs` stage, or the `model` parameter: a model directory, an
/// artifact digest (or unique prefix) or `PIPELINE:STAGE` in the run's work directory (e.g. `quickstart:ppo`).
/// Prompts come from the dataset `prompts_from` or the file `prompts` (JSONL or one prompt per line), first
/// `num_prompts` of them. Completion A uses the stage's seed, B an independent stream; pairs with equal texts
/// are skipped. Each response records the model's digest and its generation parameters.
///
/// Not cacheable: its effect is on the database. Re-running is safe: queuing is idempotent by content
/// hash, so the same samples add nothing (change `seed` for new ones).
///
/// Artifact: `pairs.jsonl` (`{"prompt", "a", "b"}` per queued pair) and `summary.json`.
/// Metrics (step 0): `sample_pairs/queued` (new comparisons), `sample_pairs/identical_skipped`, `sample_pairs/prompts`.
public struct SamplePairsStage: StageKind {
    public static let name = "sample-pairs"
    public static let version = "1"
    public static let summary = "Sample two completions per prompt from a model and queue them in PostgreSQL for `rlhf label`."
    public static let cacheable = false
    public static let headlineMetrics = ["sample_pairs/queued", "sample_pairs/identical_skipped"]
    public static let parameters: ParameterSchema = [
        ParameterSpec("dataset", .string, required: "The dataset that receives the new comparisons (created if missing)."),
        ParameterSpec("prompts_from", .string, default: .string(""),
                      doc: "A dataset in PostgreSQL to take prompts from (e.g. hh-rlhf-harmless-base); or give `prompts`."),
        ParameterSpec("prompts", .string, default: .string(""),
                      doc: "A prompts file relative to the pipeline file: JSONL (`{\"prompt\": ...}` or strings) or one prompt per line."),
        ParameterSpec("model", .string, default: .string(""),
                      doc: "The model when the stage has no `needs`: a directory, an artifact digest, or PIPELINE:STAGE (e.g. quickstart:ppo)."),
        ParameterSpec("num_prompts", .int, default: .int(32), doc: "Prompts to sample for (the first ones)."),
        ParameterSpec("max_new_tokens", .int, default: .int(64), doc: "New tokens per completion at most (tokens)."),
        ParameterSpec("temperature", .float, default: .float(1.0), doc: "Sampling temperature (> 0)."),
        ParameterSpec("top_p", .float, default: .float(1.0), doc: "Nucleus sampling mass in (0, 1]."),
        ParameterSpec("batch_size", .int, default: .int(8), doc: "Prompts generated together."),
        ParameterSpec("database_url", .string, default: .string(""),
                      doc: "libpq URL of PostgreSQL (default: $RLHF_DATABASE_URL)."),
    ]

    public init() {}

    public func run(_ context: StageContext) async throws {
        context.applyComputeThreads()
        let p = context.params
        let stage = context.stageName
        func bad(_ name: String, _ message: String) -> PipelineError { .parameter(stage: stage, name: name, message: message) }
        let dataset = try p.string("dataset")
        guard !dataset.isEmpty else { throw bad("dataset", "is empty; name the dataset that receives the comparisons") }
        let options = PairSamplingOptions(maxNewTokens: try p.int("max_new_tokens"), temperature: Float(try p.double("temperature")),
                                          topP: Float(try p.double("top_p")), seed: context.seed, batchSize: try p.int("batch_size"))
        guard options.maxNewTokens >= 1 else { throw bad("max_new_tokens", "must be at least 1") }
        guard options.temperature > 0, options.temperature.isFinite else { throw bad("temperature", "must be > 0 (two greedy samples would be identical)") }
        guard options.topP > 0, options.topP <= 1 else { throw bad("top_p", "must be in (0, 1]") }
        guard options.batchSize >= 1 else { throw bad("batch_size", "must be at least 1") }
        let numPrompts = try p.int("num_prompts")
        guard numPrompts >= 1 else { throw bad("num_prompts", "must be at least 1") }

        let from = try p.string("prompts_from"), file = try p.string("prompts")
        guard from.isEmpty != file.isEmpty else {
            throw bad("prompts_from", "give exactly one of `prompts_from` (a dataset) or `prompts` (a file)")
        }

        // The model and its digest.
        let (modelDirectory, modelDigest) = try resolveModel(context)

        // The database.
        let urlParam = try p.string("database_url")
        guard let url = urlParam.isEmpty ? ProcessInfo.processInfo.environment["RLHF_DATABASE_URL"] : urlParam, !url.isEmpty else {
            throw bad("database_url", "no database: set RLHF_DATABASE_URL or the `database_url` parameter (deploy/local-postgres.sh starts a server)")
        }
        let store = try PreferenceStore(url: url, logger: context.logger)
        guard try !store.appliedMigrations().isEmpty else {
            throw PipelineError.stageFailed(stage: stage, message: "the database at \(store.location) has no preference schema; run `rlhf db migrate`",
                                            log: context.logFile.path)
        }

        // The prompts.
        let prompts = from.isEmpty ? Array(try PairSampler.readPrompts(file: p.resolve(file)).prefix(numPrompts))
                                   : try store.prompts(dataset: from, limit: numPrompts)
        guard !prompts.isEmpty else { throw bad(from.isEmpty ? "prompts" : "prompts_from", "holds no prompts") }

        // Sample and queue.
        context.logger.info("sampling pairs", metadata: ["model": "\(modelDirectory.path)", "prompts": "\(prompts.count)", "dataset": "\(dataset)"])
        let (model, tokenizer) = try PairSampler.load(modelDirectory: modelDirectory)
        let sampled = try PairSampler.sample(model: model, tokenizer: tokenizer, modelDigest: modelDigest, prompts: prompts,
                                             options: options, logger: context.logger,
                                             progress: { done, total in context.progress(Double(done) / Double(total), "\(done)/\(total) prompts") },
                                             shouldCancel: { context.isCancelled })
        let queued = try store.enqueueComparisons(dataset: dataset, pairs: sampled.pairs)
        context.metrics.log(step: 0, name: "sample_pairs/queued", value: Double(queued))
        context.metrics.log(step: 0, name: "sample_pairs/identical_skipped", value: Double(sampled.identicalSkipped))
        context.metrics.log(step: 0, name: "sample_pairs/prompts", value: Double(prompts.count))
        try Self.writeArtifact(sampled, dataset: dataset, modelDigest: modelDigest, queued: queued, to: context.outputDirectory)
    }

    /// The model directory and the digest recorded with its samples.
    func resolveModel(_ context: StageContext) throws -> (URL, String) {
        let reference = try context.params.string("model")
        switch (context.inputs.count, reference.isEmpty) {
        case (1, true):
            guard let (name, url) = context.inputs.first.map({ ($0.key, $0.value) }) else { throw PipelineError.missingInput(stage: context.stageName, name: "model", available: []) }
            let digest = context.lineage.stages.first { $0.name == name }?.artifact ?? url.lastPathComponent
            return (url, digest)
        case (0, false):
            let run = context.outputDirectory.deletingLastPathComponent().deletingLastPathComponent()
            let workdir = FileManager.default.fileExists(atPath: run.appendingPathComponent("rlhf.sqlite").path) ? run : ArtifactModelResolver.defaultWorkdir
            let resolver = ArtifactModelResolver(workdir: workdir)
            var ref = ArtifactModelResolver.parse(reference)
            // A relative directory is relative to the pipeline file, like every path parameter.
            if case .directory = ArtifactModelResolver.parse(reference), !reference.hasPrefix("/") {
                ref = .directory(context.params.resolve(reference))
            }
            let url: URL
            do { url = try resolver.resolve(ref) } catch let e as ExportError {
                throw PipelineError.parameter(stage: context.stageName, name: "model", message: e.description)
            }
            let artifacts = workdir.appendingPathComponent("artifacts").standardizedFileURL.path
            let digest = url.deletingLastPathComponent().standardizedFileURL.path == artifacts
                ? url.lastPathComponent : try ContentDigest.of(url)
            return (url, digest)
        default:
            throw PipelineError.parameter(stage: context.stageName, name: "model",
                                          message: "give the model either as one `needs` stage or as the `model` parameter (found \(context.inputs.count) needs, model '\(reference)')")
        }
    }

    /// Writes `pairs.jsonl` and `summary.json`.
    static func writeArtifact(_ sampled: SampledPairs, dataset: String, modelDigest: String, queued: Int, to out: URL) throws {
        var lines = ""
        for pair in sampled.pairs {
            let obj: [String: Any] = ["prompt": pair.prompt, "a": pair.a.text, "b": pair.b.text]
            lines += String(decoding: try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]), as: UTF8.self) + "\n"
        }
        try Data(lines.utf8).write(to: out.appendingPathComponent("pairs.jsonl"), options: .atomic)
        let summary: [String: Any] = ["dataset": dataset, "model_digest": modelDigest, "pairs": sampled.pairs.count,
                                      "queued": queued, "identical_skipped": sampled.identicalSkipped]
        try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys, .prettyPrinted])
            .write(to: out.appendingPathComponent("summary.json"), options: .atomic)
    }
}
