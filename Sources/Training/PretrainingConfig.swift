// The hyper-parameters of causal-LM pretraining, with Hugging Face TrainingArguments names.
import Foundation

/// Settings of one pretraining run (`Pretrainer`), saved as `training_args.json` in every checkpoint
/// (snake_case keys as in HF `TrainingArguments`: `max_steps`, `per_device_train_batch_size`, ...).
///
/// Tokens per optimizer step = `batchSize * seqLen * gradientAccumulationSteps`.
public struct PretrainingConfig: Codable, Equatable, Sendable {
    /// Optimizer steps of the whole run (HF `max_steps`); also the end of the cosine decay.
    public var steps: Int
    /// Windows per micro-batch (B, HF `per_device_train_batch_size`).
    public var batchSize: Int
    /// Tokens per window (T); must not exceed the model's `max_position_embeddings`.
    public var seqLen: Int
    /// Micro-batches whose gradients add up to one optimizer step.
    public var gradientAccumulationSteps: Int
    /// Peak learning rate (after warm-up).
    public var learningRate: Double
    /// Floor of the cosine decay (nanoGPT's `min_lr`).
    public var minLearningRate: Double
    /// Linear warm-up steps.
    public var warmupSteps: Int
    /// AdamW decoupled weight decay λ (linear weights only).
    public var weightDecay: Double
    /// AdamW β1.
    public var adamBeta1: Double
    /// AdamW β2.
    public var adamBeta2: Double
    /// AdamW ε.
    public var adamEpsilon: Double
    /// Global-norm clipping threshold; 0 disables clipping (the norm is still logged as `grad_norm`).
    public var maxGradNorm: Double
    /// Evaluate every this many optimizer steps (and at the end); 0 evaluates only at the end.
    public var evalInterval: Int
    /// Evaluation batches (of `batchSize` windows) read from the validation file; 0 means all windows.
    public var evalBatches: Int
    /// Log `loss`, `learning_rate`, `grad_norm`, `tokens_per_second` every this many steps.
    public var loggingSteps: Int
    /// Save a checkpoint every this many steps (and when the run ends or stops); 0 only at the end.
    public var saveSteps: Int
    /// Step checkpoints kept (HF `save_total_limit`), >= 1.
    public var saveTotalLimit: Int
    /// Seed of the data order (the window sampler).
    public var seed: UInt64
    /// Stop (saving a checkpoint) after this much wall-clock time in this process (seconds), or nil.
    public var maxSeconds: Double?

    enum CodingKeys: String, CodingKey {
        case steps = "max_steps"
        case batchSize = "per_device_train_batch_size"
        case seqLen = "seq_len"
        case gradientAccumulationSteps = "gradient_accumulation_steps"
        case learningRate = "learning_rate"
        case minLearningRate = "min_learning_rate"
        case warmupSteps = "warmup_steps"
        case weightDecay = "weight_decay"
        case adamBeta1 = "adam_beta1"
        case adamBeta2 = "adam_beta2"
        case adamEpsilon = "adam_epsilon"
        case maxGradNorm = "max_grad_norm"
        case evalInterval = "eval_steps"
        case evalBatches = "eval_batches"
        case loggingSteps = "logging_steps"
        case saveSteps = "save_steps"
        case saveTotalLimit = "save_total_limit"
        case seed
        case maxSeconds = "max_seconds"
    }

    /// Creates a config; defaults follow nanoGPT's small-model settings (lr 1e-3 → 1e-4, β2 0.99,
    /// weight decay 0.1, clip 1.0).
    public init(steps: Int, batchSize: Int = 8, seqLen: Int = 256, gradientAccumulationSteps: Int = 1,
                learningRate: Double = 1e-3, minLearningRate: Double = 1e-4, warmupSteps: Int = 20,
                weightDecay: Double = 0.1, adamBeta1: Double = 0.9, adamBeta2: Double = 0.99, adamEpsilon: Double = 1e-8,
                maxGradNorm: Double = 1.0, evalInterval: Int = 50, evalBatches: Int = 8, loggingSteps: Int = 10,
                saveSteps: Int = 100, saveTotalLimit: Int = 2, seed: UInt64 = 1337, maxSeconds: Double? = nil) {
        self.steps = steps; self.batchSize = batchSize; self.seqLen = seqLen
        self.gradientAccumulationSteps = gradientAccumulationSteps; self.learningRate = learningRate
        self.minLearningRate = minLearningRate; self.warmupSteps = warmupSteps; self.weightDecay = weightDecay
        self.adamBeta1 = adamBeta1; self.adamBeta2 = adamBeta2; self.adamEpsilon = adamEpsilon
        self.maxGradNorm = maxGradNorm; self.evalInterval = evalInterval; self.evalBatches = evalBatches
        self.loggingSteps = loggingSteps; self.saveSteps = saveSteps; self.saveTotalLimit = saveTotalLimit
        self.seed = seed; self.maxSeconds = maxSeconds
    }

    /// Tokens consumed by one optimizer step (`B * T * accumulation`).
    public var tokensPerStep: Int { batchSize * seqLen * gradientAccumulationSteps }

    /// The learning-rate schedule (warm-up, cosine to `minLearningRate` at `steps`).
    /// - Throws: `TrainingError.invalidConfiguration` naming the field out of range.
    public func schedule() throws -> CosineSchedule {
        try CosineSchedule(learningRate: learningRate, warmupSteps: warmupSteps, maxSteps: steps,
                           minLearningRate: minLearningRate)
    }

    /// Checks every field, and `seqLen` against the model's context.
    /// - Parameter maxPositionEmbeddings: the model's `max_position_embeddings` (tokens).
    /// - Throws: `TrainingError.invalidConfiguration` naming the field, its value and the allowed range.
    public func validate(maxPositionEmbeddings: Int) throws {
        func need(_ ok: Bool, _ field: String, _ reason: String) throws {
            if !ok { throw TrainingError.invalidConfiguration(field: field, reason: reason) }
        }
        try need(steps >= 1, "steps", "must be >= 1, got \(steps)")
        try need(batchSize >= 1, "batch_size", "must be >= 1, got \(batchSize)")
        try need(seqLen >= 1, "seq_len", "must be >= 1, got \(seqLen)")
        try need(seqLen <= maxPositionEmbeddings, "seq_len",
                 "\(seqLen) is above the model's max_position_embeddings (\(maxPositionEmbeddings)); lower seq_len or raise max_position_embeddings")
        try need(gradientAccumulationSteps >= 1, "gradient_accumulation_steps", "must be >= 1, got \(gradientAccumulationSteps)")
        try need(weightDecay >= 0 && weightDecay.isFinite, "weight_decay", "must be >= 0, got \(weightDecay)")
        try need(maxGradNorm >= 0 && maxGradNorm.isFinite, "max_grad_norm", "must be >= 0 (0 disables clipping), got \(maxGradNorm)")
        try need(adamBeta1 >= 0 && adamBeta1 < 1, "adam_beta1", "must be in [0, 1), got \(adamBeta1)")
        try need(adamBeta2 >= 0 && adamBeta2 < 1, "adam_beta2", "must be in [0, 1), got \(adamBeta2)")
        try need(adamEpsilon > 0, "adam_epsilon", "must be > 0, got \(adamEpsilon)")
        try need(evalInterval >= 0, "eval_interval", "must be >= 0, got \(evalInterval)")
        try need(evalBatches >= 0, "eval_batches", "must be >= 0 (0 = whole validation file), got \(evalBatches)")
        try need(loggingSteps >= 1, "logging_steps", "must be >= 1, got \(loggingSteps)")
        try need(saveSteps >= 0, "save_steps", "must be >= 0, got \(saveSteps)")
        try need(saveTotalLimit >= 1, "save_total_limit", "must be >= 1, got \(saveTotalLimit)")
        if let maxSeconds { try need(maxSeconds > 0, "max_seconds", "must be > 0, got \(maxSeconds)") }
        _ = try schedule()
    }

    /// Whether a checkpoint written under `saved` can continue under `self`: the fields that decide
    /// the data order and the update rule must match (the step budget, logging, evaluation and saving
    /// cadence and `maxSeconds` may change).
    /// - Returns: the names of the fields that differ (empty when compatible).
    public func resumeIncompatibilities(with saved: PretrainingConfig) -> [String] {
        var d: [String] = []
        if batchSize != saved.batchSize { d.append("batch_size (\(saved.batchSize) saved, \(batchSize) now)") }
        if seqLen != saved.seqLen { d.append("seq_len (\(saved.seqLen) saved, \(seqLen) now)") }
        if gradientAccumulationSteps != saved.gradientAccumulationSteps {
            d.append("gradient_accumulation_steps (\(saved.gradientAccumulationSteps) saved, \(gradientAccumulationSteps) now)")
        }
        if seed != saved.seed { d.append("seed (\(saved.seed) saved, \(seed) now)") }
        if learningRate != saved.learningRate { d.append("learning_rate (\(saved.learningRate) saved, \(learningRate) now)") }
        if minLearningRate != saved.minLearningRate { d.append("min_learning_rate (\(saved.minLearningRate) saved, \(minLearningRate) now)") }
        if warmupSteps != saved.warmupSteps { d.append("warmup_steps (\(saved.warmupSteps) saved, \(warmupSteps) now)") }
        if weightDecay != saved.weightDecay { d.append("weight_decay (\(saved.weightDecay) saved, \(weightDecay) now)") }
        if maxGradNorm != saved.maxGradNorm { d.append("max_grad_norm (\(saved.maxGradNorm) saved, \(maxGradNorm) now)") }
        if adamBeta1 != saved.adamBeta1 || adamBeta2 != saved.adamBeta2 || adamEpsilon != saved.adamEpsilon {
            d.append("adam betas/epsilon")
        }
        return d
    }
}
