// Stage kind `dpo`: Direct Preference Optimization of the input model on the comparison snapshot.

import Alignment
import Foundation
import Llama
import Pipeline
import Tensors
import Preferences
import Tokenization
import Training

/// `dpo`: the alternative to reward-model + PPO. Trains the input causal LM with TRL's sigmoid DPO
/// loss on the snapshot of `dataset`; reference log-probabilities are computed once with the initial
/// model before training (no second copy in memory). Artifact: the tuned model as an HF directory.
public struct DPOStage: StageKind {
    public static let name = "dpo"
    public static let version = "1"
    public static let summary = "DPO (sigmoid loss, precomputed reference log-probs) on PostgreSQL comparisons."
    public static let headlineMetrics = ["eval_rewards/accuracies", "eval_rewards/margins", "eval_loss"]
    public static let parameters = ParameterSchema(ComparisonSnapshotInput.parameters(dataset: "Comparison dataset name in PostgreSQL.") + [
        ParameterSpec("model", .string, default: .null, doc: "Needs stage holding the model (default: the only causal-LM input)."),
        ParameterSpec("beta", .float, default: .float(0.1), doc: "Inverse temperature of the implicit reward."),
        ParameterSpec("label_smoothing", .float, default: .float(0), doc: "cDPO label smoothing in [0, 0.5)."),
        ParameterSpec("max_length", .int, default: .int(0), doc: "Tokens of prompt + response (0: the model's context); prompts are left-truncated."),
        ParameterSpec("long_prompts", .string, default: .string("error"), doc: "A prompt alone longer than max_length: error or skip."),
        ParameterSpec("steps", .int, default: .int(0), doc: "Optimizer steps (0: `epochs` passes)."),
        ParameterSpec("epochs", .int, default: .int(1), doc: "Passes over the training pairs when steps is 0."),
        ParameterSpec("batch_size", .int, default: .int(8), doc: "Comparisons per step."),
        ParameterSpec("learning_rate", .float, default: .float(1e-6), doc: "AdamW learning rate (linear decay to 0)."),
        ParameterSpec("max_grad_norm", .float, default: .float(1.0), doc: "Global gradient-norm clip."),
        ParameterSpec("eval_fraction", .float, default: .float(0.1), doc: "Fraction of pairs held out for eval_* metrics."),
        ParameterSpec("max_pairs", .int, default: .null, doc: "Use at most this many comparisons (seeded choice), or all."),
    ])

    public init() {}

    public func resolveInputs(_ context: StageContext) async throws -> [ResolvedInput] {
        try ComparisonSnapshotInput.resolve(context)
    }

    public func run(_ context: StageContext) async throws {
        context.applyComputeThreads()
        let p = context.params
        let snapshot = try ComparisonSnapshotInput.read(context)
        let dir = try ModelInputs.pick(context, param: "model", rewardModel: false)
        let tok = RLHFTokenization(tokenizer: try BPETokenizer(directory: dir))
        let policy = try LlamaModel.load(directory: dir)
        let ctx = policy.config.maxPositionEmbeddings
        let maxLength = try p.int("max_length") > 0 ? Swift.min(try p.int("max_length"), ctx) : ctx
        let skipLong = try p.string("long_prompts") == "skip"
        var pairs = snapshot.pairs
        if let cap = try p.optionalInt("max_pairs"), cap < pairs.count {
            var idx = Array(pairs.indices)
            var rng = Xoshiro256(seed: context.seed &+ 17)
            rng.shuffle(&idx)
            pairs = idx.prefix(cap).sorted().map { pairs[$0] }
        }
        var data: [DPOPair] = [], skipped = 0
        for pair in pairs {
            let item = "comparison \(pair.comparisonId)"
            let prompt = tok.prompt(pair.prompt)
            do {
                let fit = try fitPairToContext(prompt: prompt, chosen: tok.response(pair.chosen), rejected: tok.response(pair.rejected),
                                               maxLength: maxLength, item: item)
                data.append(DPOPair(id: item, chosen: fit.chosen, chosenPromptLength: fit.promptTokens, rejected: fit.rejected,
                                    rejectedPromptLength: fit.promptTokens))
            } catch TrainerError.promptTooLong where skipLong { skipped += 1 }
        }
        context.metrics.log(step: 0, name: "skipped_long_prompts", value: Double(skipped))
        guard data.count >= 2 else { throw TrainerError.emptyData("only \(data.count) usable comparison(s) in '\(snapshot.dataset)'") }

        var config = DPOConfig()
        config.beta = Float(try p.double("beta"))
        config.labelSmoothing = Float(try p.double("label_smoothing"))
        config.learningRate = try p.double("learning_rate")
        config.numTrainEpochs = try p.int("epochs")
        config.perDeviceTrainBatchSize = try p.int("batch_size")
        config.maxGradNorm = Float(try p.double("max_grad_norm"))
        config.maxLength = maxLength
        config.maxPromptLength = Swift.max(1, maxLength - 1)
        config.seed = context.seed
        try config.validate()
        let trainer = DPOTrainer(policy: policy, config: config, logger: context.logger)
        data = trainer.precomputeReference(data, batchSize: config.perDeviceTrainBatchSize)
        let split = trainEvalSplit(count: data.count, evalFraction: try p.double("eval_fraction"), seed: context.seed)
        let train = split.train.map { data[$0] }, eval = split.eval.map { data[$0] }
        let steps = try p.int("steps"), bs = config.perDeviceTrainBatchSize
        let total = steps > 0 ? steps : ((train.count + bs - 1) / bs) * config.numTrainEpochs
        try trainer.train(train, maxSteps: total) { step, m in
            try context.checkCancellation()
            for (k, v) in m { context.metrics.log(step: step, name: k, value: v) }
            context.progress(Double(step) / Double(total), "step \(step)/\(total) loss \(String(format: "%.4f", m["loss"] ?? 0))")
            return true
        }
        if !eval.isEmpty {
            for (k, v) in try trainer.evaluate(eval, batchSize: bs) { context.metrics.log(step: total, name: k, value: v) }
        }
        try policy.save(directory: context.outputDirectory)
        try copyTokenizerFiles(from: dir, to: context.outputDirectory)
        let gen = dir.appendingPathComponent("generation_config.json")
        if FileManager.default.fileExists(atPath: gen.path) {
            try writeFileAtomically(try Data(contentsOf: gen), to: context.outputDirectory.appendingPathComponent("generation_config.json"))
        }
    }
}
