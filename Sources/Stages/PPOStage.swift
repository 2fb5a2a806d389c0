// Stage kind `ppo`: PPO of the policy against the reward model, prompts from the comparison snapshot.

import Alignment
import Export
import Foundation
import Llama
import Pipeline
import Preferences
import Tokenization
import Training

/// `ppo`: needs a policy model stage and a `reward-model` stage (found by their `config.json`
/// architectures, or named with `policy:` / `reward_model:`). Prompts are the snapshot's distinct
/// prompts; `eval_prompts` of them (seeded choice) are held out for `eval/score_policy`,
/// `eval/score_reference` and `eval/kl` at the start, every `eval_every` iterations and at the end.
/// Artifact: the tuned policy as an HF directory (config, weights, tokenizer, generation config).
/// The reference is a frozen copy of the initial policy.
///
/// With `lora: {r, lora_alpha, lora_dropout, target_modules, use_rslora}` (PEFT's names; `lora: {}`
/// takes the defaults r 16, alpha 32, dropout 0.1, `[q_proj, v_proj]`) only adapters are trained, the
/// base stays frozen and the reference is the policy with its adapters disabled (one copy of the
/// weights). The artifact is then the input model's weights plus the PEFT adapter in `adapter/`
/// (`PeftModel.from_pretrained(base, "<artifact>/adapter")`); with `merge: true` the weights are the
/// merged ones (`W + scaling B A`) and the adapter is kept in `merged_adapter/` (the `export` stage's
/// `peft` format exports either).
public struct PPOStage: StageKind {
    public static let name = "ppo"
    public static let version = "1"
    public static let summary = "PPO (TRL PPOv2 semantics) against the reward model with a KL penalty."
    public static let headlineMetrics = ["eval/score_policy", "eval/score_reference", "eval/kl"]
    public static let parameters = ParameterSchema(ComparisonSnapshotInput.parameters(dataset: "Comparison dataset whose prompts are used (PostgreSQL).") + [
        ParameterSpec("policy", .string, default: .null, doc: "Needs stage holding the policy (default: the only causal-LM input)."),
        ParameterSpec("reward_model", .string, default: .null, doc: "Needs stage holding the reward model (default: the only reward-model input)."),
        ParameterSpec("eval_prompts", .int, default: .int(16), doc: "Held-out prompts for eval/* metrics."),
        ParameterSpec("eval_every", .int, default: .int(0), doc: "Evaluate every N iterations (0: start and end only)."),
        ParameterSpec("max_prompt_length", .int, default: .int(0), doc: "Prompt tokens kept (the end); 0: context - response_length."),
        ParameterSpec("batch_size", .int, default: .int(8), doc: "Rollout prompts per iteration."),
        ParameterSpec("iterations", .int, default: .int(0), doc: "PPO iterations (0: from total_episodes, else one pass over the prompts)."),
        ParameterSpec("total_episodes", .int, default: .null, doc: "Responses to train on (iterations = total_episodes / batch_size)."),
        ParameterSpec("learning_rate", .float, default: .float(3e-6), doc: "AdamW learning rate (linear decay to 0)."),
        ParameterSpec("kl_coef", .float, default: .float(0.05), doc: "KL penalty coefficient (initial value when adap_kl_ctrl)."),
        ParameterSpec("kl_estimator", .string, default: .string("k1"), doc: "Per-token KL estimator: k1 or k3 (or k2)."),
        ParameterSpec("adap_kl_ctrl", .bool, default: .bool(false), doc: "Adaptive KL controller (Ziegler et al.)."),
        ParameterSpec("target", .float, default: .float(6), doc: "Target sequence KL of the adaptive controller (nats)."),
        ParameterSpec("horizon", .float, default: .float(10000), doc: "Horizon of the adaptive controller (episodes)."),
        ParameterSpec("cliprange", .float, default: .float(0.2), doc: "Policy ratio clip."),
        ParameterSpec("cliprange_value", .float, default: .float(0.2), doc: "Value clip."),
        ParameterSpec("vf_coef", .float, default: .float(0.1), doc: "Value-loss weight."),
        ParameterSpec("gamma", .float, default: .float(1), doc: "Discount."),
        ParameterSpec("lam", .float, default: .float(0.95), doc: "GAE lambda."),
        ParameterSpec("num_ppo_epochs", .int, default: .int(4), doc: "PPO epochs per rollout."),
        ParameterSpec("num_mini_batches", .int, default: .int(1), doc: "Minibatches per PPO epoch (must divide batch_size)."),
        ParameterSpec("whiten_rewards", .bool, default: .bool(false), doc: "Whiten per-token rewards before GAE."),
        ParameterSpec("temperature", .float, default: .float(0.7), doc: "Sampling temperature (also applied when rescoring)."),
        ParameterSpec("response_length", .int, default: .int(53), doc: "New tokens per response."),
        ParameterSpec("missing_eos_penalty", .float, default: .null, doc: "Subtracted from the score of a response without EOS (Huang et al.: 1)."),
        ParameterSpec("max_grad_norm", .float, default: .float(1.0), doc: "Global gradient-norm clip."),
        ParameterSpec("save_every", .int, default: .int(10), doc: "Checkpoint every N iterations (resume after interruption)."),
        ParameterSpec("lora", .map, default: .null, doc: "LoRA adapters {r, lora_alpha, lora_dropout, target_modules, use_rslora} (PEFT names; {} = defaults 16, 32, 0.1, [q_proj, v_proj]); null: train all weights."),
        ParameterSpec("merge", .bool, default: .bool(false), doc: "With lora: fold the adapters into the saved weights (adapter kept in merged_adapter/)."),
    ])

    public init() {}

    public func resolveInputs(_ context: StageContext) async throws -> [ResolvedInput] {
        try ComparisonSnapshotInput.resolve(context)
    }

    public func run(_ context: StageContext) async throws {
        context.applyComputeThreads()
        let p = context.params
        let lora = try Self.loraConfig(context)
        let merge = try p.bool("merge")
        if merge && lora == nil {
            throw PipelineError.parameter(stage: context.stageName, name: "merge", message: "needs `lora:` (there is no adapter to merge); remove merge or add lora: {}")
        }
        let snapshot = try ComparisonSnapshotInput.read(context)
        let policyDir = try ModelInputs.pick(context, param: "policy", rewardModel: false)
        let rmDir = try ModelInputs.pick(context, param: "reward_model", rewardModel: true)
        let tokenizer = try BPETokenizer(directory: policyDir)
        let rmTokenizer = try BPETokenizer(directory: rmDir)
        guard tokenizer.fingerprint == rmTokenizer.fingerprint else {
            throw TrainerError.tokenizerMismatch(policy: tokenizer.fingerprint, rewardModel: rmTokenizer.fingerprint)
        }
        guard let eos = tokenizer.eosTokenId else {
            throw TrainerError.badModelDirectory(path: policyDir.path, detail: "the tokenizer has no EOS token; PPO truncates responses at EOS")
        }
        if FileManager.default.fileExists(atPath: policyDir.appendingPathComponent(LlamaModel.adapterSubdirectory).path) {
            throw TrainerError.badModelDirectory(path: policyDir.path,
                detail: "the policy has a LoRA adapter (adapter/); merge it first (`rlhf export --format hf --merge`, or `merge: true` in its stage)")
        }
        let policy = try LlamaModel.load(directory: policyDir)
        let reference: LlamaModel
        if let lora {
            try policy.applyLoRA(lora, seed: context.seed &+ 7)
            reference = policy   // the base with adapters disabled
        } else {
            reference = try LlamaModel.load(directory: policyDir)
        }
        let rm = try RewardModel.load(directory: rmDir)
        let pad = Int32(policy.config.padTokenId ?? Int(tokenizer.padTokenId ?? 0))

        var config = PPOConfig()
        config.responseLength = try p.int("response_length")
        let batchSize = try p.int("batch_size")
        config.numMiniBatches = try p.int("num_mini_batches")
        guard batchSize >= 1, config.numMiniBatches >= 1, batchSize % config.numMiniBatches == 0 else {
            throw PipelineError.parameter(stage: context.stageName, name: "num_mini_batches",
                                          message: "must divide batch_size (\(batchSize)), got \(config.numMiniBatches)")
        }
        config.perDeviceTrainBatchSize = batchSize / config.numMiniBatches
        config.gradientAccumulationSteps = 1
        config.learningRate = try p.double("learning_rate")
        config.klCoef = Float(try p.double("kl_coef"))
        guard let est = KLEstimator(rawValue: try p.string("kl_estimator")) else {
            throw PipelineError.parameter(stage: context.stageName, name: "kl_estimator", message: "must be k1, k2 or k3")
        }
        config.klEstimator = est
        config.adapKlCtrl = try p.bool("adap_kl_ctrl")
        config.target = Float(try p.double("target"))
        config.horizon = Float(try p.double("horizon"))
        config.cliprange = Float(try p.double("cliprange"))
        config.cliprangeValue = Float(try p.double("cliprange_value"))
        config.vfCoef = Float(try p.double("vf_coef"))
        config.gamma = Float(try p.double("gamma"))
        config.lam = Float(try p.double("lam"))
        config.numPpoEpochs = try p.int("num_ppo_epochs")
        config.whitenRewards = try p.bool("whiten_rewards")
        config.temperature = Float(try p.double("temperature"))
        config.missingEosPenalty = try p.optionalDouble("missing_eos_penalty").map { Float($0) }
        config.maxGradNorm = Float(try p.double("max_grad_norm"))
        config.seed = context.seed
        config.totalEpisodes = try p.optionalInt("total_episodes")
        try config.validate()

        // Prompts: distinct snapshot prompts, left-truncated to fit prompt + response in the context.
        let ctx = policy.config.maxPositionEmbeddings
        var maxPrompt = try p.int("max_prompt_length")
        if maxPrompt <= 0 { maxPrompt = ctx - config.responseLength }
        guard maxPrompt >= 1, maxPrompt + config.responseLength <= ctx else {
            throw PipelineError.parameter(stage: context.stageName, name: "response_length",
                message: "max_prompt_length (\(maxPrompt)) + response_length (\(config.responseLength)) must fit the policy's context of \(ctx) tokens")
        }
        var seen = Set<String>(), texts: [String] = []
        for pair in snapshot.pairs where !seen.contains(pair.prompt) { seen.insert(pair.prompt); texts.append(pair.prompt) }
        let tok = RLHFTokenization(tokenizer: tokenizer)
        let all = texts.map { Array(tok.prompt($0).suffix(maxPrompt)) }
        let split = trainEvalSplit(count: all.count, evalFraction: Double(Swift.min(try p.int("eval_prompts"), all.count - 1)) / Double(all.count),
                                   seed: context.seed)
        let trainPrompts = split.train.map { all[$0] }, evalPrompts = split.eval.map { all[$0] }
        guard !trainPrompts.isEmpty else { throw TrainerError.emptyData("no training prompts in dataset '\(snapshot.dataset)'") }

        var iterations = try p.int("iterations")
        if iterations <= 0 { iterations = config.totalEpisodes.map { Swift.max(1, $0 / batchSize) } ?? Swift.max(1, trainPrompts.count / batchSize) }
        let trainer = try PPOTrainer(policy: policy, reference: reference, scorer: rewardModelScorer(rm), prompts: trainPrompts,
                                     config: config, totalIterations: iterations, eosTokenId: eos, padTokenId: pad, logger: context.logger)
        context.logger.info("ppo", metadata: ["train_prompts": "\(trainPrompts.count)", "eval_prompts": "\(evalPrompts.count)",
                                              "iterations": "\(iterations)", "batch_size": "\(batchSize)"])

        // Resume.
        let ckpt = context.checkpointDirectory.appendingPathComponent("ppo")
        if FileManager.default.fileExists(atPath: ckpt.appendingPathComponent(PPOTrainerState.fileName).path) {
            try trainer.loadCheckpoint(from: ckpt)
            context.logger.info("ppo resumed", metadata: ["iteration": "\(trainer.state.iteration)"])
        }
        let evalSeed = context.seed &+ 101
        let evalEvery = try p.int("eval_every")
        func evaluate(at step: Int) throws {
            for (k, v) in try trainer.evaluate(prompts: evalPrompts, seed: evalSeed) { context.metrics.log(step: step, name: k, value: v) }
        }
        if trainer.state.iteration == 0 { try evaluate(at: 0) }
        let saveEvery = try p.int("save_every")
        while trainer.state.iteration < iterations {
            try context.checkCancellation()
            let m = try trainer.step()
            let it = trainer.state.iteration
            for (k, v) in m { context.metrics.log(step: it, name: k, value: v) }
            if evalEvery > 0, it % evalEvery == 0, it < iterations { try evaluate(at: it) }
            if saveEvery > 0, it % saveEvery == 0, it < iterations { try trainer.saveCheckpoint(to: ckpt) }
            context.progress(Double(it) / Double(iterations),
                             "iteration \(it)/\(iterations) score \(String(format: "%.3f", m["objective/scores"] ?? 0)) kl \(String(format: "%.3f", m["objective/kl"] ?? 0))")
        }
        try evaluate(at: iterations)

        // Artifact: the tuned policy (with LoRA: base weights + adapter/, or merged weights + merged_adapter/).
        let out = context.outputDirectory
        if lora != nil {
            context.metrics.log(step: iterations, name: "lora/trainable_parameters", value: Double(policy.loraParameters.reduce(0) { $0 + $1.count }))
            if merge {
                let tmp = context.checkpointDirectory.appendingPathComponent("merged-adapter-tmp")
                try? FileManager.default.removeItem(at: tmp)
                try policy.saveLoRA(modelDirectory: tmp, baseModelNameOrPath: policyDir.path)
                try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
                try FileManager.default.moveItem(at: tmp.appendingPathComponent(LlamaModel.adapterSubdirectory),
                                                 to: out.appendingPathComponent(ModelDirectory.mergedAdapterDirectoryName))
                try? FileManager.default.removeItem(at: tmp)
                policy.mergeLoRA()
            } else {
                try policy.saveLoRA(modelDirectory: out, baseModelNameOrPath: policyDir.path)
            }
        }
        try policy.save(directory: out)
        try copyTokenizerFiles(from: policyDir, to: out)
        let gen = policyDir.appendingPathComponent("generation_config.json")
        if FileManager.default.fileExists(atPath: gen.path) {
            try writeFileAtomically(try Data(contentsOf: gen), to: out.appendingPathComponent("generation_config.json"))
        }
    }

    // MARK: - LoRA

    /// The `lora:` parameter as a `LoRAConfig` (nil when absent or null); missing keys take the defaults.
    /// - Throws: `PipelineError.parameter` naming the key (unknown key, wrong type, out of range).
    static func loraConfig(_ context: StageContext) throws -> LoRAConfig? {
        guard let v = context.params["lora"], v != .null else { return nil }
        func bad(_ m: String) -> PipelineError { .parameter(stage: context.stageName, name: "lora", message: m) }
        guard case .map(let m) = v else { throw bad("must be a mapping such as {r: 16, lora_alpha: 32, lora_dropout: 0.1, target_modules: [q_proj, v_proj]}") }
        let known = ["r", "lora_alpha", "lora_dropout", "target_modules", "use_rslora"]
        if let k = m.keys.sorted().first(where: { !known.contains($0) }) { throw bad("unknown key '\(k)'; known: \(known.joined(separator: ", "))") }
        func number(_ k: String) throws -> Double? {
            switch m[k] {
            case nil, .null?: return nil
            case .int(let i)?: return Double(i)
            case .float(let d)?: return d
            default: throw bad("'\(k)' must be a number")
            }
        }
        var c = LoRAConfig()
        if let r = try number("r") {
            guard r == r.rounded(), r >= 1, r <= 4096 else { throw bad("'r' must be a positive integer, got \(r)") }
            c.r = Int(r)
        }
        if let a = try number("lora_alpha") { c.loraAlpha = Float(a) }
        if let d = try number("lora_dropout") { c.loraDropout = Float(d) }
        switch m["target_modules"] {
        case nil, .null?: break
        case .list(let items)?:
            c.targetModules = try items.map { item -> String in
                guard case .string(let s) = item else { throw bad("'target_modules' must be a list of module names such as [q_proj, v_proj]") }
                return s
            }
        case .string(let s)?: c.targetModules = [s]
        default: throw bad("'target_modules' must be a list of module names such as [q_proj, v_proj]")
        }
        switch m["use_rslora"] {
        case nil, .null?: break
        case .bool(let b)?: c.useRslora = b
        default: throw bad("'use_rslora' must be true or false")
        }
        do { try c.validate() } catch { throw bad("\(error)") }
        return c
    }
}
