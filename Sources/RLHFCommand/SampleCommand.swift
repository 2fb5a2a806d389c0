import ArgumentParser
import Export
import Foundation
import Logging
import Pipeline
import Preferences
import Stages

/// `rlhf sample --model M --dataset NAME (--prompts-from DS | --prompts FILE)`: the `sample-pairs` stage
/// outside pipelines: two completions per prompt, queued in PostgreSQL for `rlhf label`.
struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Sample two completions per prompt from a model and queue them for `rlhf label`.",
        discussion: """
        MODEL is a model directory, an artifact digest (or unique prefix) or PIPELINE:STAGE in --workdir. \
        Pairs whose two completions are equal are skipped; queuing is idempotent (same samples add nothing). \
        Example:
          rlhf sample --model quickstart:ppo --dataset mine --prompts-from hh-rlhf-harmless-base --num-prompts 16
          rlhf label --annotator you --dataset mine
        """)

    @Option(name: .long, help: "The model: a directory, an artifact digest or prefix, or PIPELINE:STAGE.")
    var model: String

    @Option(name: .long, help: "The dataset receiving the comparisons (created if missing).")
    var dataset: String

    @Option(name: .long, help: "Take prompts from this dataset.")
    var promptsFrom: String?

    @Option(name: .long, help: "Take prompts from this file (JSONL with \"prompt\", or one per line).")
    var prompts: String?

    @Option(name: .long, help: "Prompts to sample for (the first ones).")
    var numPrompts: Int = 32

    @Option(name: .long, help: "New tokens per completion at most.")
    var maxNewTokens: Int = 64

    @Option(name: .long, help: "Sampling temperature (> 0).")
    var temperature: Float = 1

    @Option(name: .long, help: "Nucleus sampling mass in (0, 1].")
    var topP: Float = 1

    @Option(name: .long, help: "Seed of completion A (B uses an independent stream).")
    var seed: UInt64 = 0

    @Option(name: .long, help: "Prompts generated together.")
    var batchSize: Int = 8

    @Option(name: .long, help: ArgumentHelp("Work directory for digests and PIPELINE:STAGE (default $RLHF_WORKDIR or .rlhf).", valueName: "DIR"))
    var workdir: String?

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        guard (promptsFrom == nil) != (prompts == nil) else { throw ValidationError("give exactly one of --prompts-from or --prompts") }
        guard numPrompts >= 1, maxNewTokens >= 1, batchSize >= 1 else { throw ValidationError("--num-prompts, --max-new-tokens and --batch-size must be >= 1") }
        guard temperature > 0, temperature.isFinite else { throw ValidationError("--temperature must be > 0") }
        guard topP > 0, topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
    }

    func run() throws {
        let logger = database.logger("rlhf.sample")
        let work = workdir.map { URL(fileURLWithPath: $0).standardizedFileURL } ?? ArtifactModelResolver.defaultWorkdir
        let directory: URL
        do { directory = try ArtifactModelResolver(workdir: work).resolve(argument: model) } catch let e as ExportError {
            throw CLIError(e.description)
        }
        let artifacts = work.appendingPathComponent("artifacts").path
        let digest = directory.deletingLastPathComponent().standardizedFileURL.path == artifacts
            ? directory.lastPathComponent : try ContentDigest.of(directory)
        let store = try database.connectMigrated("rlhf.sample")
        let texts: [String]
        if let promptsFrom { texts = try store.prompts(dataset: promptsFrom, limit: numPrompts) } else {
            texts = Array(try PairSampler.readPrompts(file: URL(fileURLWithPath: prompts ?? "")).prefix(numPrompts))
        }
        guard !texts.isEmpty else { throw CLIError("no prompts found in \(promptsFrom ?? prompts ?? "")") }
        let (llama, tokenizer) = try PairSampler.load(modelDirectory: directory)
        let options = PairSamplingOptions(maxNewTokens: maxNewTokens, temperature: temperature, topP: topP, seed: seed, batchSize: batchSize)
        let sampled = try PairSampler.sample(model: llama, tokenizer: tokenizer, modelDigest: digest, prompts: texts,
                                             options: options, logger: logger,
                                             progress: { done, total in emitError("sampled \(done)/\(total) prompts") })
        let queued = try store.enqueueComparisons(dataset: dataset, pairs: sampled.pairs)
        emit("queued \(queued) comparisons in '\(dataset)' (\(sampled.pairs.count) pairs, \(sampled.identicalSkipped) identical skipped; model \(digest.prefix(12)))")
        emit("label them: rlhf label --annotator YOU --dataset \(dataset)")
    }
}
