// PPO for RLHF with TRL PPOv2 semantics ("The N Implementation Details of RLHF with PPO"): rollouts,
// scores, per-token KL rewards, GAE, whitening, clipped policy and value losses over epochs and
// minibatches.
//
// Legend: B = batch_size rollout prompts, L response_length, C hidden_size, V vocab_size.

import Foundation
import Llama
import Logging
import SafeTensors
import Tensors
import Training

// MARK: - Scorer

/// Scores responses to prompts (the reward model, normalised), one float per row.
/// - Parameters: prompts `[B][Tp_b]` and real response tokens `[B][L_b]` (through the EOS, if any).
public typealias PPOScorer = (_ prompts: [[Int32]], _ responses: [[Int32]]) -> [Float]

/// A scorer reading a `RewardModel` at the last real token of `prompt + response`, normalised with the
/// model's stored normalisation. Sequences longer than the reward model's context keep their end.
public func rewardModelScorer(_ rm: RewardModel, batchSize: Int = 8) -> PPOScorer {
    let maxLength = rm.backbone.config.maxPositionEmbeddings
    return { prompts, responses in
        let seqs = zip(prompts, responses).map { p, r -> [Int32] in
            let s = p + r
            return s.count > maxLength ? Array(s.suffix(maxLength)) : s
        }
        return rm.scores(seqs, batchSize: batchSize)
    }
}

// MARK: - State

/// What a PPO checkpoint stores besides weights and optimiser moments, so a resumed run continues
/// identically: iteration, episodes, the KL controller, both random streams and the prompt order.
public struct PPOTrainerState: Codable, Equatable, Sendable {
    public var version: Int = 1
    /// Iterations (rollout + update) done.
    public var iteration: Int
    /// Responses trained on so far (TRL `episode`).
    public var episode: Int
    /// The KL controller (its current coefficient).
    public var klController: KLController
    /// Sampling stream.
    public var rng: Xoshiro256StarStar
    /// Prompt-order and minibatch-shuffle stream.
    public var dataRNG: Xoshiro256StarStar
    /// Current pass's prompt order.
    public var order: [Int]
    /// Next position in `order`.
    public var cursor: Int
    public static let fileName = "ppo_state.json"
}

// MARK: - Trainer

/// PPO trainer: a policy with a value head `v_head.summary.weight [1, C]` on the policy's final-norm
/// hidden states (TRL 0.x's shared-backbone `AutoModelForCausalLMWithValueHead`, without bias; zero at
/// start so the first values are 0), a frozen reference model, a scorer and TRL's `PPOConfig`.
///
/// One `step()` (TRL PPOv2 `train` loop body):
/// 1. take `batch_size` prompts (seeded shuffle, epoch after epoch);
/// 2. generate `response_length` tokens at `temperature` (left-padded prompts), truncate after the first EOS;
/// 3. rescore with policy and reference at the same temperature (log-probs), read values;
/// 4. score with the reward model at the last real token; subtract `missing_eos_penalty` without EOS;
/// 5. per-token rewards `-kl_coef * kl` (+ score on the last real token), optional reward whitening;
/// 6. GAE (`gamma`, `lam`), advantage whitening;
/// 7. `num_ppo_epochs` x `num_mini_batches`: clipped policy loss + `vf_coef` x clipped value loss, one
///    AdamW step per minibatch with global-norm clipping; with one minibatch the rows keep their order
///    (so the first update's ratio is exactly 1);
/// 8. update the KL controller with `objective/kl`.
/// The learning rate decays linearly to 0 over `totalIterations` (HF/TRL default schedule).
///
/// LoRA (PEFT semantics): pass the same model as `policy` and `reference` after `policy.applyLoRA(...)`.
/// The optimiser then holds only the adapters' `lora_A`/`lora_B` and the value head, the base stays
/// frozen, and every reference pass runs the policy with its adapters disabled (`withLoRADisabled`), so
/// no second copy of the weights exists (TRL/PEFT `with model.disable_adapter()`). Adapter dropout is
/// off in every pass, as TRL's PPO trainer disables dropout in the policy (Huang et al., detail
/// "Disable dropout"): rollout and update log-probabilities then come from the same function.
public final class PPOTrainer {
    public let policy: LlamaModel
    /// The frozen reference; the same object as `policy` when training LoRA adapters (then read with
    /// the adapters disabled).
    public let reference: LlamaModel
    /// True when `reference === policy`: LoRA training, reference = base with adapters disabled.
    public let referenceIsPolicyBase: Bool
    /// `v_head.summary.weight` `[1, C]`.
    public let valueHead: Parameter
    public let config: PPOConfig
    public let optimizer: AdamW
    public let prompts: [[Int32]]
    public let eosTokenId: Int32
    public let padTokenId: Int32
    /// Iterations the learning rate decays over.
    public let totalIterations: Int
    public private(set) var state: PPOTrainerState
    /// Wall-clock seconds of each phase of the last `step()`: `generate`, `rescore` (policy and
    /// reference log-probabilities and values), `score` (reward model), `advantages` (rewards, GAE,
    /// whitening), `update` (all PPO epochs and minibatches). For benchmarks and logs.
    public private(set) var phaseSeconds: [String: Double] = [:]
    private let scorer: PPOScorer
    private let sampler: ResponseSampler
    private let logger: Logger

    /// - Parameters:
    ///   - policy: the model to train (updated in place; with LoRA adapters attached only they are trained).
    ///   - reference: a frozen copy of the initial policy (never updated), or `policy` itself when it
    ///     carries LoRA adapters (the reference is then the base with adapters disabled).
    ///   - scorer: e.g. `rewardModelScorer(rm)`.
    ///   - prompts: training prompts (token lists, each non-empty, BOS included when the model uses one).
    ///   - config: TRL names; `batch_size` = `config.rolloutBatchSize`.
    ///   - totalIterations: for the learning-rate schedule.
    ///   - eosTokenId: stop token (`config.stopTokenId` wins when set).
    ///   - padTokenId: pad id (distinct from EOS).
    ///   - sampler: the generator (default: `KVCacheSampler`).
    ///   - logger: debug lines per iteration.
    /// - Throws: `TrainerError.emptyData` without prompts; `AlignmentError.invalidConfiguration` (also when
    ///   `reference === policy` but the policy has no LoRA adapters: the KL would always be 0).
    public init(policy: LlamaModel, reference: LlamaModel, scorer: @escaping PPOScorer, prompts: [[Int32]], config: PPOConfig,
                totalIterations: Int, eosTokenId: Int32, padTokenId: Int32, sampler: ResponseSampler = KVCacheSampler(),
                logger: Logger) throws {
        try config.validate()
        guard !prompts.isEmpty, prompts.allSatisfy({ !$0.isEmpty }) else { throw TrainerError.emptyData("PPO needs at least one non-empty prompt") }
        self.policy = policy
        self.reference = reference
        self.scorer = scorer
        self.prompts = prompts
        self.config = config
        self.totalIterations = Swift.max(1, totalIterations)
        self.eosTokenId = config.stopTokenId ?? eosTokenId
        self.padTokenId = padTokenId
        self.sampler = sampler
        self.logger = logger
        valueHead = Parameter(name: "v_head.summary.weight", shape: [1, policy.config.hiddenSize], weightDecay: false)
        referenceIsPolicyBase = reference === policy
        let trainable: [Parameter]
        if referenceIsPolicyBase {
            guard !policy.loraAdapters.isEmpty else {
                throw AlignmentError.invalidConfiguration(field: "reference",
                    reason: "is the policy itself but the policy has no LoRA adapters; pass a separate reference model or call applyLoRA first")
            }
            for p in policy.parameters { p.requiresGrad = false }
            policy.setLoRATraining(false)
            trainable = policy.loraParameters
        } else {
            for p in reference.parameters { p.requiresGrad = false }
            trainable = policy.loraAdapters.isEmpty ? policy.parameters : policy.loraParameters
        }
        optimizer = AdamW(parameters: trainable + [valueHead],
                          hyperparameters: .init(lr: Float(config.learningRate), weightDecay: 0))
        state = PPOTrainerState(iteration: 0, episode: 0, klController: config.klController,
                                rng: Xoshiro256StarStar(seed: config.seed), dataRNG: Xoshiro256StarStar(seed: config.seed &+ 1),
                                order: [], cursor: 0)
    }

    /// Parameters updated by the optimiser (policy or its LoRA adapters, then the value head).
    public var trainableParameters: [Parameter] { optimizer.parameters }

    /// Runs `body` with the reference model: `reference`, or the policy with its adapters disabled.
    func withReference<R>(_ body: (LlamaModel) throws -> R) rethrows -> R {
        if referenceIsPolicyBase { return try policy.withLoRADisabled { try body(policy) } }
        return try body(reference)
    }

    // MARK: Rollout

    /// The next `batch_size` prompts (reshuffled after each pass).
    func nextPrompts() -> [[Int32]] {
        var out: [[Int32]] = []
        while out.count < config.rolloutBatchSize {
            if state.cursor >= state.order.count {
                var order = Array(prompts.indices)
                state.dataRNG.shuffle(&order)
                state.order = order
                state.cursor = 0
            }
            out.append(prompts[state.order[state.cursor]])
            state.cursor += 1
        }
        return out
    }

    /// Phases 2-6 for `queries`: generate, truncate, rescore, score, rewards, advantages.
    /// - Throws: `AlignmentError` from the math (e.g. fewer than 2 real tokens to whiten).
    public func rollout(_ queries: [[Int32]]) throws -> PPORollout {
        let b = queries.count, l = config.responseLength
        var clock = DispatchTime.now().uptimeNanoseconds
        func lap(_ phase: String) {
            let now = DispatchTime.now().uptimeNanoseconds
            phaseSeconds[phase] = Double(now - clock) / 1e9
            clock = now
        }
        let raw = sampler.sample(model: policy, prompts: queries, responseLength: l, temperature: config.temperature,
                                 eosTokenId: eosTokenId, padTokenId: padTokenId, rng: &state.rng)
        let tr = truncateAfterFirstEOS(tokens: raw.flatMap { $0 }, batchSize: b, responseLength: l,
                                       eosTokenID: eosTokenId, padTokenID: padTokenId)
        lap("generate")
        let tp = queries.map(\.count).max() ?? 0
        let input = ppoModelInput(queries: queries, responses: tr.tokens, mask: tr.mask, promptLength: tp, responseLength: l,
                                  padTokenId: padTokenId)
        let ref = withReference {
            responseForward(model: $0, input: input, responses: tr.tokens, promptLength: tp, responseLength: l,
                            temperature: config.temperature, valueHead: nil)
        }
        let pol = responseForward(model: policy, input: input, responses: tr.tokens, promptLength: tp, responseLength: l,
                                  temperature: config.temperature, valueHead: valueHead)
        var rollout = PPORollout(queries: queries, promptLength: tp, responseLength: l, responses: tr.tokens, mask: tr.mask,
                                 containsEOS: tr.containsEOS, logProbs: pol.logProbs, refLogProbs: ref.logProbs,
                                 values: pol.values, scores: [], rewards: PerTokenRewards(rewards: [], nonScoreRewards: [], kl: [], scoreIndices: []),
                                 advantages: [], returns: [])
        lap("rescore")
        let raws = scorer(queries, (0..<b).map { rollout.responseTokens($0) })
        lap("score")
        rollout.scores = applyMissingEOSPenalty(scores: raws, containsEOS: tr.containsEOS, penalty: config.missingEosPenalty)
        rollout.rewards = try perTokenRewards(scores: rollout.scores, logProbs: pol.logProbs, refLogProbs: ref.logProbs, mask: tr.mask,
                                              batchSize: b, responseLength: l, klCoef: state.klController.value,
                                              estimator: config.klEstimator)
        var rewards = rollout.rewards.rewards
        if config.whitenRewards { rewards = try maskedWhiten(rewards, mask: tr.mask, shiftMean: false) }
        let gae = generalizedAdvantageEstimation(rewards: rewards, values: pol.values, mask: tr.mask, batchSize: b,
                                                 responseLength: l, gamma: config.gamma, lam: config.lam)
        rollout.advantages = try maskedWhiten(gae.advantages, mask: tr.mask)
        rollout.returns = gae.returns
        lap("advantages")
        return rollout
    }

    // MARK: Update

    /// One minibatch update on rollout rows `rows` (phase 7 body).
    /// - Returns: the policy and value losses and the mean entropy of the minibatch.
    func update(_ r: PPORollout, rows: [Int], lr: Float) throws -> (PolicyLoss, ValueLoss, Double, Float) {
        let l = r.responseLength, v = policy.config.vocabSize, c = policy.config.hiddenSize
        func pick<T>(_ x: [T]) -> [T] { rows.flatMap { b in x[(b * l)..<((b + 1) * l)] } }
        let mask = pick(r.mask), responses = pick(r.responses)
        let input = ppoModelInput(queries: rows.map { r.queries[$0] }, responses: responses, mask: mask,
                                  promptLength: r.promptLength, responseLength: l, padTokenId: padTokenId)
        for p in trainableParameters { p.zeroGradient() }
        let fwd = responseForward(model: policy, input: input, responses: responses, promptLength: r.promptLength,
                                  responseLength: l, temperature: config.temperature, valueHead: valueHead)
        let pl = try clippedPolicyLoss(newLogProbs: fwd.logProbs, oldLogProbs: pick(r.logProbs), advantages: pick(r.advantages),
                                       mask: mask, cliprange: config.cliprange)
        let vl = try clippedValueLoss(newValues: fwd.values, oldValues: pick(r.values), returns: pick(r.returns), mask: mask,
                                      cliprangeValue: config.cliprangeValue)
        // Entropy (for policy/entropy_avg) and the policy-loss gradient in one pass over the response logits.
        var dLogitsResp = [Float](repeating: 0, count: rows.count * l * v)
        let ent = dLogitsResp.withUnsafeMutableBufferPointer { d in
            fwd.logits.withUnsafeBufferPointer { lg in
                entropyAndGatherLogProbsBackward(dlogits: d, logits: lg, logSumExp: fwd.logSumExp, tokens: responses,
                                                 weights: pl.dNewLogProbs, vocabSize: v, temperature: config.temperature)
            }
        }
        let entMean = try maskedMean(ent, mask: mask)
        // Gradients at the response positions, scattered into [R*T, V] and [R*T, C].
        let t = input.seqLen
        let dLogits = Tensor(shape: [rows.count * t, v]), dHidden = Tensor(shape: [rows.count * t, c])
        for i in 0..<rows.count {
            for j in 0..<l {
                let src = i * l + j, dst = i * t + r.promptLength - 1 + j
                dLogitsResp.withUnsafeBufferPointer { (dLogits.data + dst * v).update(from: $0.baseAddress! + src * v, count: v) }
                let dv = config.vfCoef * vl.dNewValues[src]
                if dv != 0 {
                    for k in 0..<c {
                        dHidden[dst * c + k] = dv * valueHead.value[k]
                        valueHead.grad[k] += dv * fwd.hidden[src * c + k]
                    }
                }
            }
        }
        policy.backward(dLogits: dLogits, dHidden: dHidden)
        let norm = clipGradientNorm(trainableParameters, maxNorm: config.maxGradNorm)
        guard norm.isFinite, pl.loss.isFinite, vl.loss.isFinite else {
            throw TrainerError.nonFinite(step: state.iteration + 1, what: "PPO loss or grad_norm")
        }
        optimizer.step(lr: lr)
        return (pl, vl, entMean, norm)
    }

    /// One PPO iteration (phases 1-8) on the next `batch_size` prompts.
    /// - Returns: TRL's metrics (`objective/*`, `policy/*`, `loss/*`, `val/*`, `lr`, `episode`) plus
    ///   `objective/kl_coef` (the coefficient used for this rollout) and `grad_norm`.
    /// - Throws: `TrainerError.nonFinite`; `AlignmentError` from the math.
    @discardableResult
    public func step() throws -> [String: Double] {
        let queries = nextPrompts()
        let klCoef = state.klController.value
        let r = try rollout(queries)
        let b = r.batchSize
        let lr = Float(config.learningRate * (1 - Double(state.iteration) / Double(totalIterations)))
        var stats = PPOUpdateMetrics()
        var norms: [Float] = []
        let updateStart = DispatchTime.now().uptimeNanoseconds
        let mbCount = Swift.min(config.numMiniBatches, b)
        for _ in 0..<config.numPpoEpochs {
            var order = Array(0..<b)
            if mbCount > 1 { state.dataRNG.shuffle(&order) }
            for m in 0..<mbCount {
                let rows = Array(order[(m * b / mbCount)..<((m + 1) * b / mbCount)])
                let (pl, vl, ent, norm) = try update(r, rows: rows, lr: lr)
                stats.add(policy: pl, value: vl, entropyMean: ent)
                norms.append(norm)
            }
        }
        phaseSeconds["update"] = Double(DispatchTime.now().uptimeNanoseconds - updateStart) / 1e9
        var metrics = rolloutMetrics(scores: r.scores, rewards: r.rewards, logProbs: r.logProbs, mask: r.mask, containsEOS: r.containsEOS)
        for (k, v) in stats.metrics { metrics[k] = v }
        state.iteration += 1
        state.episode += b
        metrics["lr"] = Double(lr)
        metrics["episode"] = Double(state.episode)
        metrics["objective/kl_coef"] = Double(klCoef)
        metrics["grad_norm"] = Double(norms.reduce(0, +) / Float(Swift.max(1, norms.count)))
        state.klController.update(currentKL: Float(metrics["objective/kl"] ?? 0), nSteps: b)
        logger.debug("ppo iteration", metadata: ["iteration": "\(state.iteration)", "score": "\(metrics["objective/scores"] ?? 0)",
                                                 "kl": "\(metrics["objective/kl"] ?? 0)"])
        return metrics
    }

    // MARK: Evaluation

    /// Scores completions of held-out prompts by the policy and by the reference with the same
    /// sampling settings and the same random stream (seeded by `seed`, independent of training), and
    /// the mean sequence KL (k1 sum of `log pi - log pi_ref` over the policy's response tokens).
    /// - Returns: `eval/score_policy`, `eval/score_reference`, `eval/kl` (nats).
    public func evaluate(prompts evalPrompts: [[Int32]], seed: UInt64) throws -> [String: Double] {
        guard !evalPrompts.isEmpty else { return [:] }
        let l = config.responseLength, bs = Swift.max(1, config.rolloutBatchSize)
        func run(sampleWithReference: Bool) throws -> (scores: [Float], kl: [Double]) {
            var rng = Xoshiro256StarStar(seed: seed)
            var scores: [Float] = [], kls: [Double] = []
            var i = 0
            while i < evalPrompts.count {
                let q = Array(evalPrompts[i..<Swift.min(evalPrompts.count, i + bs)])
                func sample(_ model: LlamaModel) -> [[Int32]] {
                    sampler.sample(model: model, prompts: q, responseLength: l, temperature: config.temperature,
                                   eosTokenId: eosTokenId, padTokenId: padTokenId, rng: &rng)
                }
                let raw = sampleWithReference ? withReference(sample) : sample(policy)
                let tr = truncateAfterFirstEOS(tokens: raw.flatMap { $0 }, batchSize: q.count, responseLength: l,
                                               eosTokenID: eosTokenId, padTokenID: padTokenId)
                let resp = (0..<q.count).map { b in (0..<l).filter { tr.mask[b * l + $0] }.map { tr.tokens[b * l + $0] } }
                scores += applyMissingEOSPenalty(scores: scorer(q, resp), containsEOS: tr.containsEOS, penalty: config.missingEosPenalty)
                let tp = q.map(\.count).max() ?? 0
                let input = ppoModelInput(queries: q, responses: tr.tokens, mask: tr.mask, promptLength: tp, responseLength: l,
                                          padTokenId: padTokenId)
                let a = responseForward(model: policy, input: input, responses: tr.tokens, promptLength: tp, responseLength: l,
                                        temperature: config.temperature, valueHead: nil).logProbs
                let b = withReference {
                    responseForward(model: $0, input: input, responses: tr.tokens, promptLength: tp, responseLength: l,
                                    temperature: config.temperature, valueHead: nil).logProbs
                }
                for row in 0..<q.count {
                    var s = 0.0
                    for j in 0..<l where tr.mask[row * l + j] { s += Double(a[row * l + j]) - Double(b[row * l + j]) }
                    kls.append(s)
                }
                i += q.count
            }
            return (scores, kls)
        }
        let pol = try run(sampleWithReference: false)
        let ref = try run(sampleWithReference: true)
        func mean(_ x: [Float]) -> Double { x.reduce(0.0) { $0 + Double($1) } / Double(Swift.max(1, x.count)) }
        return ["eval/score_policy": mean(pol.scores), "eval/score_reference": mean(ref.scores),
                "eval/kl": pol.kl.reduce(0, +) / Double(Swift.max(1, pol.kl.count))]
    }

    // MARK: Checkpoints

    /// Writes the policy (`model.safetensors` + `config.json`; with LoRA only the adapters, in PEFT's
    /// layout under `adapter/`, as the base never changes), the value head (`value_head.safetensors`),
    /// the optimiser (`optimizer.safetensors`) and `ppo_state.json` into `directory` (each file atomically).
    /// - Throws: `TrainerError.io`.
    public func saveCheckpoint(to directory: URL) throws {
        do {
            if policy.loraAdapters.isEmpty { try policy.save(directory: directory) } else { try policy.saveLoRA(modelDirectory: directory) }
            var w = SafeTensorsWriter(metadata: ["format": "pt"])
            try w.add(valueHead.name, shape: valueHead.shape, floats: UnsafeBufferPointer(start: valueHead.value.data, count: valueHead.count))
            try w.write(to: directory.appendingPathComponent("value_head.safetensors"))
            try optimizer.save(to: directory.appendingPathComponent("optimizer.safetensors"))
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys]
            try writeFileAtomically(try enc.encode(state), to: directory.appendingPathComponent(PPOTrainerState.fileName))
        } catch let e as TrainerError { throw e } catch {
            throw TrainerError.io(path: directory.path, detail: "cannot write the PPO checkpoint: \(error)")
        }
    }

    /// Restores everything `saveCheckpoint` wrote (side effect: overwrites weights, moments and state).
    /// - Throws: `TrainerError.io` / `SafeTensorsError` / `OptimizerStateError` naming the file or tensor.
    public func loadCheckpoint(from directory: URL) throws {
        if policy.loraAdapters.isEmpty {
            try policy.loadWeights(from: directory.appendingPathComponent("model.safetensors"))
        } else {
            // Into the existing adapters (the optimiser holds their parameters).
            let url = directory.appendingPathComponent(LlamaModel.adapterSubdirectory).appendingPathComponent("adapter_model.safetensors")
            let file = try SafeTensorsFile.read(contentsOf: url)
            let values = try policy.loraParameters.map { try file.floats($0.name, shape: $0.shape) }
            for (p, v) in zip(policy.loraParameters, values) { p.value.copy(from: v) }
        }
        let vh = try SafeTensorsFile.read(contentsOf: directory.appendingPathComponent("value_head.safetensors"))
        valueHead.value.copy(from: try vh.floats(valueHead.name, shape: valueHead.shape))
        try optimizer.load(from: directory.appendingPathComponent("optimizer.safetensors"))
        let url = directory.appendingPathComponent(PPOTrainerState.fileName)
        do { state = try JSONDecoder().decode(PPOTrainerState.self, from: Data(contentsOf: url)) } catch {
            throw TrainerError.io(path: url.path, detail: "unreadable PPO state: \(error)")
        }
    }
}
