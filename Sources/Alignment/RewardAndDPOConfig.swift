// Reward-model and DPO configurations with TRL's field names.

// MARK: - Reward model

/// Reward-model training hyper-parameters (TRL `RewardConfig` names; unknown keys rejected).
public struct RewardConfig: Codable, Equatable, Sendable {
    /// `max_length` (1024): maximum tokens of prompt + response; longer comparisons are an error.
    public var maxLength: Int = 1024
    /// `center_rewards_coefficient` (nil): weight of `mean((r_c + r_r)^2)` added to the loss.
    public var centerRewardsCoefficient: Float? = nil
    /// `learning_rate` (1e-5; TRL's reward example uses 1e-5, HF Trainer's default is 5e-5).
    public var learningRate: Double = 1e-5
    /// `num_train_epochs` (1; HF Trainer's default 3 overfits a reward model).
    public var numTrainEpochs: Int = 1
    /// `per_device_train_batch_size` (8).
    public var perDeviceTrainBatchSize: Int = 8
    /// `gradient_accumulation_steps` (1).
    public var gradientAccumulationSteps: Int = 1
    /// `max_grad_norm` (1.0).
    public var maxGradNorm: Float = 1
    /// `eval_fraction` (0.1; not in TRL): fraction of comparisons held out for accuracy.
    public var evalFraction: Double = 0.1
    /// `seed` (42).
    public var seed: UInt64 = 42

    enum CodingKeys: String, CodingKey, CaseIterable {
        case maxLength = "max_length"
        case centerRewardsCoefficient = "center_rewards_coefficient"
        case learningRate = "learning_rate"
        case numTrainEpochs = "num_train_epochs"
        case perDeviceTrainBatchSize = "per_device_train_batch_size"
        case gradientAccumulationSteps = "gradient_accumulation_steps"
        case maxGradNorm = "max_grad_norm"
        case evalFraction = "eval_fraction"
        case seed
    }

    /// The defaults.
    public init() {}

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, known: CodingKeys.allCases.map(\.rawValue), config: "reward")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = RewardConfig()
        maxLength = try c.decodeIfPresent(Int.self, forKey: .maxLength) ?? d.maxLength
        centerRewardsCoefficient = try c.decodeIfPresent(Float.self, forKey: .centerRewardsCoefficient)
        learningRate = try c.decodeIfPresent(Double.self, forKey: .learningRate) ?? d.learningRate
        numTrainEpochs = try c.decodeIfPresent(Int.self, forKey: .numTrainEpochs) ?? d.numTrainEpochs
        perDeviceTrainBatchSize = try c.decodeIfPresent(Int.self, forKey: .perDeviceTrainBatchSize) ?? d.perDeviceTrainBatchSize
        gradientAccumulationSteps = try c.decodeIfPresent(Int.self, forKey: .gradientAccumulationSteps) ?? d.gradientAccumulationSteps
        maxGradNorm = try c.decodeIfPresent(Float.self, forKey: .maxGradNorm) ?? d.maxGradNorm
        evalFraction = try c.decodeIfPresent(Double.self, forKey: .evalFraction) ?? d.evalFraction
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
        try validate()
    }

    /// Checks every range.
    /// - Throws: `AlignmentError.invalidConfiguration` naming the field.
    public func validate() throws {
        func bad(_ f: String, _ r: String) -> AlignmentError { .invalidConfiguration(field: "reward.\(f)", reason: r) }
        if maxLength < 2 { throw bad("max_length", "must be >= 2, got \(maxLength)") }
        if let c = centerRewardsCoefficient, !(c >= 0) { throw bad("center_rewards_coefficient", "must be >= 0, got \(c)") }
        if !(learningRate > 0) { throw bad("learning_rate", "must be > 0, got \(learningRate)") }
        if numTrainEpochs < 1 { throw bad("num_train_epochs", "must be >= 1, got \(numTrainEpochs)") }
        if perDeviceTrainBatchSize < 1 { throw bad("per_device_train_batch_size", "must be >= 1, got \(perDeviceTrainBatchSize)") }
        if gradientAccumulationSteps < 1 { throw bad("gradient_accumulation_steps", "must be >= 1, got \(gradientAccumulationSteps)") }
        if !(maxGradNorm > 0) { throw bad("max_grad_norm", "must be > 0, got \(maxGradNorm)") }
        if !(evalFraction >= 0 && evalFraction < 1) { throw bad("eval_fraction", "must be in [0, 1), got \(evalFraction)") }
    }
}

// MARK: - DPO

/// DPO hyper-parameters (TRL `DPOConfig` names; unknown keys rejected). Only the sigmoid loss is
/// implemented (`loss_type: sigmoid`).
public struct DPOConfig: Codable, Equatable, Sendable {
    /// `beta` (0.1): inverse temperature of the implicit reward.
    public var beta: Float = 0.1
    /// `label_smoothing` (0): cDPO's assumed label-noise rate, in [0, 0.5).
    public var labelSmoothing: Float = 0
    /// `loss_type` ("sigmoid").
    public var lossType: String = "sigmoid"
    /// `max_length` (1024): maximum tokens of prompt + response.
    public var maxLength: Int = 1024
    /// `max_prompt_length` (512): maximum prompt tokens.
    public var maxPromptLength: Int = 512
    /// `precompute_ref_log_probs` (true; TRL's default is false): reference log-probabilities are
    /// computed once for the snapshot before training (the issue asks for it; no second model in memory).
    public var precomputeRefLogProbs: Bool = true
    /// `learning_rate` (1e-6, TRL's DPO examples; HF's 5e-5 is far too high for DPO).
    public var learningRate: Double = 1e-6
    /// `num_train_epochs` (1).
    public var numTrainEpochs: Int = 1
    /// `per_device_train_batch_size` (8).
    public var perDeviceTrainBatchSize: Int = 8
    /// `gradient_accumulation_steps` (1).
    public var gradientAccumulationSteps: Int = 1
    /// `max_grad_norm` (1.0).
    public var maxGradNorm: Float = 1
    /// `seed` (42).
    public var seed: UInt64 = 42

    enum CodingKeys: String, CodingKey, CaseIterable {
        case beta
        case labelSmoothing = "label_smoothing"
        case lossType = "loss_type"
        case maxLength = "max_length"
        case maxPromptLength = "max_prompt_length"
        case precomputeRefLogProbs = "precompute_ref_log_probs"
        case learningRate = "learning_rate"
        case numTrainEpochs = "num_train_epochs"
        case perDeviceTrainBatchSize = "per_device_train_batch_size"
        case gradientAccumulationSteps = "gradient_accumulation_steps"
        case maxGradNorm = "max_grad_norm"
        case seed
    }

    /// The defaults.
    public init() {}

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, known: CodingKeys.allCases.map(\.rawValue), config: "dpo")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = DPOConfig()
        beta = try c.decodeIfPresent(Float.self, forKey: .beta) ?? d.beta
        labelSmoothing = try c.decodeIfPresent(Float.self, forKey: .labelSmoothing) ?? d.labelSmoothing
        lossType = try c.decodeIfPresent(String.self, forKey: .lossType) ?? d.lossType
        maxLength = try c.decodeIfPresent(Int.self, forKey: .maxLength) ?? d.maxLength
        maxPromptLength = try c.decodeIfPresent(Int.self, forKey: .maxPromptLength) ?? d.maxPromptLength
        precomputeRefLogProbs = try c.decodeIfPresent(Bool.self, forKey: .precomputeRefLogProbs) ?? d.precomputeRefLogProbs
        learningRate = try c.decodeIfPresent(Double.self, forKey: .learningRate) ?? d.learningRate
        numTrainEpochs = try c.decodeIfPresent(Int.self, forKey: .numTrainEpochs) ?? d.numTrainEpochs
        perDeviceTrainBatchSize = try c.decodeIfPresent(Int.self, forKey: .perDeviceTrainBatchSize) ?? d.perDeviceTrainBatchSize
        gradientAccumulationSteps = try c.decodeIfPresent(Int.self, forKey: .gradientAccumulationSteps) ?? d.gradientAccumulationSteps
        maxGradNorm = try c.decodeIfPresent(Float.self, forKey: .maxGradNorm) ?? d.maxGradNorm
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
        try validate()
    }

    /// Checks every range.
    /// - Throws: `AlignmentError.invalidConfiguration` naming the field.
    public func validate() throws {
        func bad(_ f: String, _ r: String) -> AlignmentError { .invalidConfiguration(field: "dpo.\(f)", reason: r) }
        if !(beta > 0) { throw bad("beta", "must be > 0, got \(beta)") }
        if !(labelSmoothing >= 0 && labelSmoothing < 0.5) { throw bad("label_smoothing", "must be in [0, 0.5), got \(labelSmoothing)") }
        if lossType != "sigmoid" { throw bad("loss_type", "only \"sigmoid\" is implemented, got \"\(lossType)\"") }
        if maxPromptLength < 1 || maxLength <= maxPromptLength {
            throw bad("max_length", "must exceed max_prompt_length (\(maxPromptLength)) >= 1, got \(maxLength)")
        }
        if !(learningRate > 0) { throw bad("learning_rate", "must be > 0, got \(learningRate)") }
        if numTrainEpochs < 1 { throw bad("num_train_epochs", "must be >= 1, got \(numTrainEpochs)") }
        if perDeviceTrainBatchSize < 1 { throw bad("per_device_train_batch_size", "must be >= 1, got \(perDeviceTrainBatchSize)") }
        if gradientAccumulationSteps < 1 { throw bad("gradient_accumulation_steps", "must be >= 1, got \(gradientAccumulationSteps)") }
        if !(maxGradNorm > 0) { throw bad("max_grad_norm", "must be > 0, got \(maxGradNorm)") }
    }
}
