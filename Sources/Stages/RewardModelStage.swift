// Stage kind `reward-model`: Bradley-Terry training of a Llama reward model on a PostgreSQL
// comparison snapshot.

import Alignment
import Foundation
import Llama
import Pipeline
import Tensors
import Preferences
import Tokenization
import Training

/// `reward-model`: backbone = the input model (e.g. the `rag-inject` artifact) + `score.weight`,
/// trained with the Bradley-Terry loss on the snapshot of `dataset` (held-out part for accuracy),
/// normalised to mean 0 / std 1 on samples of the input model (the reference policy; Ziegler et al.)
/// or, with `normalization_samples: 0`, on the held-out responses. Artifact: an HF
/// `LlamaForSequenceClassification` directory with `reward_normalization.json` and the tokenizer.
public struct RewardModelStage: StageKind {
    public static let name = "reward-model"
    public static let version = "1"
    public static let summary = "Reward model (Llama + scalar head, Bradley-Terry) on PostgreSQL comparisons."
    public static let headlineMetrics = ["eval_accuracy", "eval_accuracy_length_baseline", "eval_loss"]
    public static let parameters = ParameterSchema(ComparisonSnapshotInput.parameters(dataset: "Comparison dataset name in PostgreSQL (rlhf prefs import ... --dataset NAME).") + [
        ParameterSpec("model", .string, default: .null, doc: "Name of the needs stage holding the base model (default: the only causal-LM input)."),
        ParameterSpec("max_length", .int, default: .int(0), doc: "Tokens of prompt + response (0: the model's max_position_embeddings); prompts are left-truncated."),
        ParameterSpec("long_prompts", .string, default: .string("error"), doc: "A prompt alone longer than max_length: error (before training) or skip (counted in skipped_long_prompts)."),
        ParameterSpec("steps", .int, default: .int(0), doc: "Optimizer steps (0: `epochs` passes over the training pairs)."),
        ParameterSpec("epochs", .int, default: .int(1), doc: "Passes over the training pairs when steps is 0."),
        ParameterSpec("batch_size", .int, default: .int(8), doc: "Comparisons per step (2x sequences per forward)."),
        ParameterSpec("learning_rate", .float, default: .float(1e-5), doc: "Peak AdamW learning rate (linear decay to 0)."),
        ParameterSpec("max_grad_norm", .float, default: .float(1.0), doc: "Global gradient-norm clip."),
        ParameterSpec("eval_fraction", .float, default: .float(0.1), doc: "Fraction of pairs held out (seeded split) for eval_accuracy."),
        ParameterSpec("eval_steps", .int, default: .int(0), doc: "Evaluate every N steps (0: at start and end only)."),
        ParameterSpec("max_pairs", .int, default: .null, doc: "Use at most this many comparisons (seeded choice), or all."),
        ParameterSpec("normalization_samples", .int, default: .int(32), doc: "Reference-policy samples (held-out prompts) for the mean-0/std-1 normalisation; 0: use held-out responses."),
        ParameterSpec("normalization_response_length", .int, default: .int(32), doc: "New tokens per normalisation sample."),
        ParameterSpec("normalization_temperature", .float, default: .float(0.7), doc: "Sampling temperature of the normalisation samples."),
    ])

    public init() {}

    public func resolveInputs(_ context: StageContext) async throws -> [ResolvedInput] {
        try ComparisonSnapshotInput.resolve(context)
    }

    public func run(_ context: StageContext) async throws {
        context.applyComputeThreads()
        let p = context.params
        let snapshot = try ComparisonSnapshotInput.read(context)
        let baseDir = try ModelInputs.pick(context, param: "model", rewardModel: false)
        let tokenizer = try BPETokenizer(directory: baseDir)
        let base = try LlamaModel.load(directory: baseDir)
        let ctx = base.config.maxPositionEmbeddings
        let maxLength = try p.int("max_length") > 0 ? Swift.min(try p.int("max_length"), ctx) : ctx
        let skipLong = try p.string("long_prompts") == "skip"
        let tok = RLHFTokenization(tokenizer: tokenizer)

        // Data: cap, tokenize, fit into the context (errors before any training).
        var pairs = snapshot.pairs
        if let cap = try p.optionalInt("max_pairs"), cap < pairs.count {
            var idx = Array(pairs.indices)
            var rng = Xoshiro256(seed: context.seed &+ 17)
            rng.shuffle(&idx)
            pairs = idx.prefix(cap).sorted().map { pairs[$0] }
        }
        var data: [TokenizedComparison] = [], promptsByIndex: [[Int32]] = []
        var skipped = 0
        for pair in pairs {
            let item = "comparison \(pair.comparisonId)"
            let prompt = tok.prompt(pair.prompt), c = tok.response(pair.chosen), r = tok.response(pair.rejected)
            do {
                let fit = try fitPairToContext(prompt: prompt, chosen: c, rejected: r, maxLength: maxLength, item: item)
                data.append(TokenizedComparison(id: item, chosen: fit.chosen, rejected: fit.rejected, chosenResponseLength: c.count,
                                                rejectedResponseLength: r.count, margin: pair.margin.map { Float($0) }))
                promptsByIndex.append(prompt)
            } catch TrainerError.promptTooLong where skipLong {
                skipped += 1
            }
        }
        context.metrics.log(step: 0, name: "skipped_long_prompts", value: Double(skipped))
        guard data.count >= 2 else {
            throw TrainerError.emptyData("only \(data.count) usable comparison(s) in dataset '\(snapshot.dataset)' (\(skipped) skipped for long prompts); need at least 2")
        }
        let split = trainEvalSplit(count: data.count, evalFraction: try p.double("eval_fraction"), seed: context.seed)
        let train = split.train.map { data[$0] }, eval = split.eval.map { data[$0] }
        context.logger.info("reward-model data", metadata: ["train": "\(train.count)", "eval": "\(eval.count)", "skipped": "\(skipped)",
                                                            "max_length": "\(maxLength)"])

        // Reference-policy samples for the normalisation, drawn before the backbone changes.
        let nNorm = try p.int("normalization_samples")
        var normSequences: [[Int32]] = []
        if nNorm > 0 {
            let source = eval.isEmpty ? train.indices.map { split.train[$0] } : split.eval
            let prompts = source.prefix(nNorm).map { promptsByIndex[$0] }.map { Array($0.suffix(Swift.max(1, maxLength - 1))) }
            let len = Swift.max(1, Swift.min(try p.int("normalization_response_length"), maxLength - (prompts.map(\.count).max() ?? 0)))
            var rng = Xoshiro256(seed: context.seed &+ 29)
            let pad = Int32(base.config.padTokenId ?? 0)
            for chunk in stride(from: 0, to: prompts.count, by: 8) {
                let q = Array(prompts[chunk..<Swift.min(prompts.count, chunk + 8)])
                let resp = KVCacheSampler().sample(model: base, prompts: q, responseLength: len,
                                                       temperature: Float(try p.double("normalization_temperature")),
                                                       eosTokenId: tokenizer.eosTokenId, padTokenId: pad, rng: &rng)
                for (qq, rr) in zip(q, resp) {
                    var real: [Int32] = []
                    for t in rr { real.append(t); if t == tokenizer.eosTokenId { break } }
                    normSequences.append(Array((qq + real).suffix(maxLength)))
                }
            }
        }

        // Train.
        let model = RewardModel(backbone: base, seed: context.seed)
        var config = RewardConfig()
        config.maxLength = maxLength
        config.learningRate = try p.double("learning_rate")
        config.numTrainEpochs = try p.int("epochs")
        config.perDeviceTrainBatchSize = try p.int("batch_size")
        config.maxGradNorm = Float(try p.double("max_grad_norm"))
        config.evalFraction = try p.double("eval_fraction")
        config.seed = context.seed
        try config.validate()
        let trainer = RewardModelTrainer(model: model, config: config, logger: context.logger)
        let steps = try p.int("steps")
        let bs = config.perDeviceTrainBatchSize
        let total = steps > 0 ? steps : ((train.count + bs - 1) / bs) * config.numTrainEpochs
        let evalSteps = try p.int("eval_steps")
        let baseline = lengthBaselineAccuracy(eval.isEmpty ? train : eval)
        func evaluate(at step: Int) throws {
            guard !eval.isEmpty else { return }
            let (m, loss) = try trainer.evaluate(eval)
            for (k, v) in m.named { context.metrics.log(step: step, name: "eval_" + k, value: v) }
            context.metrics.log(step: step, name: "eval_loss", value: loss)
            context.metrics.log(step: step, name: "eval_accuracy_length_baseline", value: baseline)
        }
        try evaluate(at: 0)
        try trainer.train(train, maxSteps: total) { step, metrics in
            try context.checkCancellation()
            for (k, v) in metrics { context.metrics.log(step: step, name: k, value: v) }
            if evalSteps > 0, step % evalSteps == 0, step < total { try evaluate(at: step) }
            context.progress(Double(step) / Double(total), "step \(step)/\(total) loss \(String(format: "%.4f", metrics["loss"] ?? 0))")
            return true
        }
        try evaluate(at: total)

        // Normalise and save.
        if normSequences.count >= 2 {
            try model.fitNormalization(on: normSequences)
            context.logger.info("reward normalisation on reference-policy samples", metadata: ["samples": "\(normSequences.count)"])
        } else {
            let held = eval.isEmpty ? train : eval
            try model.fitNormalization(on: held.map(\.chosen) + held.map(\.rejected))
            context.logger.info("reward normalisation on held-out responses", metadata: ["samples": "\(2 * held.count)"])
        }
        context.metrics.log(step: total, name: "normalization_gain", value: Double(model.normalization.gain))
        context.metrics.log(step: total, name: "normalization_bias", value: Double(model.normalization.bias))
        try model.save(directory: context.outputDirectory, tokenizerDirectory: baseDir)
    }
}
