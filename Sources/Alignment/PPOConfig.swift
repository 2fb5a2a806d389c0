// PPO configuration with TRL's field names (camelCase in Swift, TRL's snake_case in JSON/YAML).

/// PPO hyper-parameters. JSON/YAML keys are TRL's (`kl_coef`, `cliprange`, `vf_coef`, ...); every key
/// is optional (missing keys take the default), unknown keys are rejected.
///
/// Defaults are TRL PPOv2's (`PPOConfig` + `OnPolicyConfig`, trl 0.11-0.19) unless noted. Source:
/// TRL docs; Huang et al., "The N Implementation Details of RLHF with PPO".
public struct PPOConfig: Codable, Equatable, Sendable {
    /// `num_ppo_epochs` (4): passes over each rollout batch.
    public var numPpoEpochs: Int = 4
    /// `num_mini_batches` (1): minibatches per PPO epoch.
    public var numMiniBatches: Int = 1
    /// `per_device_train_batch_size` (8, HF Trainer): rows per micro-batch.
    public var perDeviceTrainBatchSize: Int = 8
    /// `gradient_accumulation_steps` (1, HF Trainer): micro-batches per minibatch.
    public var gradientAccumulationSteps: Int = 1
    /// `total_episodes` (nil): responses to train on; nil = the trainer's choice (e.g. one pass over prompts).
    public var totalEpisodes: Int? = nil
    /// `learning_rate` (3e-6: TRL's PPO example scripts; HF Trainer's 5e-5 is too high for RLHF).
    public var learningRate: Double = 3e-6
    /// `whiten_rewards` (false): whiten per-token rewards (`maskedWhiten(shiftMean: false)`) before GAE.
    public var whitenRewards: Bool = false
    /// `kl_coef` (0.05): KL penalty coefficient (the initial one when `adap_kl_ctrl` is on).
    public var klCoef: Float = 0.05
    /// `kl_estimator` (k1): per-token KL estimator in the reward (k1 or k3; k2 also accepted).
    public var klEstimator: KLEstimator = .k1
    /// `adap_kl_ctrl` (false; TRL 0.x had true with `init_kl_coef` 0.2): adaptive KL controller.
    public var adapKlCtrl: Bool = false
    /// `target` (6 nats): target sequence KL of the adaptive controller.
    public var target: Float = 6
    /// `horizon` (10000 episodes): horizon of the adaptive controller.
    public var horizon: Float = 10_000
    /// `cliprange` (0.2): policy ratio clip.
    public var cliprange: Float = 0.2
    /// `cliprange_value` (0.2): value clip around the rollout values.
    public var cliprangeValue: Float = 0.2
    /// `vf_coef` (0.1): value-loss weight in `loss = pg_loss + vf_coef * vf_loss`.
    public var vfCoef: Float = 0.1
    /// `gamma` (1): discount.
    public var gamma: Float = 1
    /// `lam` (0.95): GAE lambda.
    public var lam: Float = 0.95
    /// `temperature` (0.7): sampling temperature, also applied to logits when rescoring.
    public var temperature: Float = 0.7
    /// `response_length` (53): new tokens per response.
    public var responseLength: Int = 53
    /// `stop_token_id` (nil = the tokenizer's EOS): token after which responses are truncated.
    public var stopTokenId: Int32? = nil
    /// `missing_eos_penalty` (nil): subtracted from the score of a response without EOS (Huang et al.: 1).
    public var missingEosPenalty: Float? = nil
    /// `max_grad_norm` (1.0, HF Trainer): global-norm gradient clipping.
    public var maxGradNorm: Float = 1
    /// `seed` (42, HF Trainer).
    public var seed: UInt64 = 42

    enum CodingKeys: String, CodingKey, CaseIterable {
        case numPpoEpochs = "num_ppo_epochs"
        case numMiniBatches = "num_mini_batches"
        case perDeviceTrainBatchSize = "per_device_train_batch_size"
        case gradientAccumulationSteps = "gradient_accumulation_steps"
        case totalEpisodes = "total_episodes"
        case learningRate = "learning_rate"
        case whitenRewards = "whiten_rewards"
        case klCoef = "kl_coef"
        case klEstimator = "kl_estimator"
        case adapKlCtrl = "adap_kl_ctrl"
        case target, horizon, cliprange
        case cliprangeValue = "cliprange_value"
        case vfCoef = "vf_coef"
        case gamma, lam, temperature
        case responseLength = "response_length"
        case stopTokenId = "stop_token_id"
        case missingEosPenalty = "missing_eos_penalty"
        case maxGradNorm = "max_grad_norm"
        case seed
    }

    /// The defaults.
    public init() {}

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, known: CodingKeys.allCases.map(\.rawValue), config: "ppo")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = PPOConfig()
        numPpoEpochs = try c.decodeIfPresent(Int.self, forKey: .numPpoEpochs) ?? d.numPpoEpochs
        numMiniBatches = try c.decodeIfPresent(Int.self, forKey: .numMiniBatches) ?? d.numMiniBatches
        perDeviceTrainBatchSize = try c.decodeIfPresent(Int.self, forKey: .perDeviceTrainBatchSize) ?? d.perDeviceTrainBatchSize
        gradientAccumulationSteps = try c.decodeIfPresent(Int.self, forKey: .gradientAccumulationSteps) ?? d.gradientAccumulationSteps
        totalEpisodes = try c.decodeIfPresent(Int.self, forKey: .totalEpisodes)
        learningRate = try c.decodeIfPresent(Double.self, forKey: .learningRate) ?? d.learningRate
        whitenRewards = try c.decodeIfPresent(Bool.self, forKey: .whitenRewards) ?? d.whitenRewards
        klCoef = try c.decodeIfPresent(Float.self, forKey: .klCoef) ?? d.klCoef
        klEstimator = try c.decodeIfPresent(KLEstimator.self, forKey: .klEstimator) ?? d.klEstimator
        adapKlCtrl = try c.decodeIfPresent(Bool.self, forKey: .adapKlCtrl) ?? d.adapKlCtrl
        target = try c.decodeIfPresent(Float.self, forKey: .target) ?? d.target
        horizon = try c.decodeIfPresent(Float.self, forKey: .horizon) ?? d.horizon
        cliprange = try c.decodeIfPresent(Float.self, forKey: .cliprange) ?? d.cliprange
        cliprangeValue = try c.decodeIfPresent(Float.self, forKey: .cliprangeValue) ?? d.cliprangeValue
        vfCoef = try c.decodeIfPresent(Float.self, forKey: .vfCoef) ?? d.vfCoef
        gamma = try c.decodeIfPresent(Float.self, forKey: .gamma) ?? d.gamma
        lam = try c.decodeIfPresent(Float.self, forKey: .lam) ?? d.lam
        temperature = try c.decodeIfPresent(Float.self, forKey: .temperature) ?? d.temperature
        responseLength = try c.decodeIfPresent(Int.self, forKey: .responseLength) ?? d.responseLength
        stopTokenId = try c.decodeIfPresent(Int32.self, forKey: .stopTokenId)
        missingEosPenalty = try c.decodeIfPresent(Float.self, forKey: .missingEosPenalty)
        maxGradNorm = try c.decodeIfPresent(Float.self, forKey: .maxGradNorm) ?? d.maxGradNorm
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
        try validate()
    }

    /// The KL controller this configuration asks for (adaptive from `klCoef` when `adapKlCtrl`).
    public var klController: KLController {
        adapKlCtrl ? .adaptive(value: klCoef, target: target, horizon: horizon) : .fixed(value: klCoef)
    }

    /// Rows per PPO minibatch (`per_device_train_batch_size * gradient_accumulation_steps`).
    public var miniBatchSize: Int { perDeviceTrainBatchSize * gradientAccumulationSteps }

    /// Rows per rollout batch (`mini_batch_size * num_mini_batches`, TRL's `local_batch_size`).
    public var rolloutBatchSize: Int { miniBatchSize * numMiniBatches }

    /// Checks every range.
    /// - Throws: `AlignmentError.invalidConfiguration` naming the TRL field and the allowed range.
    public func validate() throws {
        func bad(_ f: String, _ r: String) -> AlignmentError { .invalidConfiguration(field: "ppo.\(f)", reason: r) }
        if numPpoEpochs < 1 { throw bad("num_ppo_epochs", "must be >= 1, got \(numPpoEpochs)") }
        if numMiniBatches < 1 { throw bad("num_mini_batches", "must be >= 1, got \(numMiniBatches)") }
        if perDeviceTrainBatchSize < 1 { throw bad("per_device_train_batch_size", "must be >= 1, got \(perDeviceTrainBatchSize)") }
        if gradientAccumulationSteps < 1 { throw bad("gradient_accumulation_steps", "must be >= 1, got \(gradientAccumulationSteps)") }
        if let t = totalEpisodes, t < 1 { throw bad("total_episodes", "must be >= 1, got \(t)") }
        if !(learningRate > 0) { throw bad("learning_rate", "must be > 0, got \(learningRate)") }
        if !(klCoef >= 0) { throw bad("kl_coef", "must be >= 0, got \(klCoef)") }
        if !(target > 0) { throw bad("target", "must be > 0 nats, got \(target)") }
        if !(horizon > 0) { throw bad("horizon", "must be > 0, got \(horizon)") }
        if !(cliprange > 0) { throw bad("cliprange", "must be > 0, got \(cliprange)") }
        if !(cliprangeValue > 0) { throw bad("cliprange_value", "must be > 0, got \(cliprangeValue)") }
        if !(vfCoef >= 0) { throw bad("vf_coef", "must be >= 0, got \(vfCoef)") }
        if !(gamma >= 0 && gamma <= 1) { throw bad("gamma", "must be in [0, 1], got \(gamma)") }
        if !(lam >= 0 && lam <= 1) { throw bad("lam", "must be in [0, 1], got \(lam)") }
        if !(temperature > 0) { throw bad("temperature", "must be > 0 (sampling needs a positive temperature), got \(temperature)") }
        if responseLength < 1 { throw bad("response_length", "must be >= 1, got \(responseLength)") }
        if let p = missingEosPenalty, !(p >= 0) { throw bad("missing_eos_penalty", "must be >= 0, got \(p)") }
        if !(maxGradNorm > 0) { throw bad("max_grad_norm", "must be > 0, got \(maxGradNorm)") }
    }
}
