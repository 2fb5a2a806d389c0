// Linear warm-up then cosine decay to a floor, as a pure function of the step.

/// Learning rate for step `s` (0-based index of the optimizer step about to run), as llm.c's
/// `train_gpt2.c` and nanoGPT compute it:
/// - warm-up, `s < warmupSteps`: `learningRate * (s + 1) / warmupSteps` (never 0, reaches the peak at `s = warmupSteps - 1`);
/// - decay, `warmupSteps <= s <= maxSteps`: with `r = (s - warmupSteps) / (maxSteps - warmupSteps)`,
///   `minLearningRate + 0.5 * (1 + cos(pi * r)) * (learningRate - minLearningRate)`;
/// - after `maxSteps`: `minLearningRate`.
///
/// Source: I. Loshchilov and F. Hutter, "SGDR" (ICLR 2017) for the cosine; Goyal et al. 2017 for warm-up.
/// Coded as JSON with HF Trainer key names (`learning_rate`, `warmup_steps`, `max_steps`, `min_lr`).
public struct CosineSchedule: Codable, Equatable, Sendable {
    /// Peak learning rate (after warm-up).
    public var learningRate: Double
    /// Warm-up steps (0 disables warm-up).
    public var warmupSteps: Int
    /// Step at which the decay reaches the floor (usually the total number of optimizer steps).
    public var maxSteps: Int
    /// The floor.
    public var minLearningRate: Double

    enum CodingKeys: String, CodingKey {
        case learningRate = "learning_rate"
        case warmupSteps = "warmup_steps"
        case maxSteps = "max_steps"
        case minLearningRate = "min_lr"
    }

    /// - Parameters:
    ///   - learningRate: peak rate, > 0.
    ///   - warmupSteps: warm-up steps, `0...maxSteps`.
    ///   - maxSteps: end of the decay, > 0.
    ///   - minLearningRate: the floor, `0...learningRate`.
    /// - Throws: `TrainingError.invalidConfiguration` naming the field that is out of range.
    public init(learningRate: Double, warmupSteps: Int, maxSteps: Int, minLearningRate: Double) throws {
        guard learningRate > 0, learningRate.isFinite else {
            throw TrainingError.invalidConfiguration(field: "learning_rate", reason: "must be a positive number, got \(learningRate)")
        }
        guard maxSteps > 0 else { throw TrainingError.invalidConfiguration(field: "max_steps", reason: "must be >= 1, got \(maxSteps)") }
        guard warmupSteps >= 0, warmupSteps <= maxSteps else {
            throw TrainingError.invalidConfiguration(field: "warmup_steps", reason: "must be in 0...max_steps (\(maxSteps)), got \(warmupSteps)")
        }
        guard minLearningRate >= 0, minLearningRate <= learningRate else {
            throw TrainingError.invalidConfiguration(field: "min_lr", reason: "must be in 0...learning_rate (\(learningRate)), got \(minLearningRate)")
        }
        self.learningRate = learningRate; self.warmupSteps = warmupSteps
        self.maxSteps = maxSteps; self.minLearningRate = minLearningRate
    }

    /// Same, with the floor given as a fraction of the peak (`min_lr = ratio * learning_rate`, nanoGPT uses 0.1).
    /// - Throws: `TrainingError.invalidConfiguration` (also for a ratio outside `0...1`).
    public init(learningRate: Double, warmupSteps: Int, maxSteps: Int, minLearningRateRatio ratio: Double) throws {
        guard ratio >= 0, ratio <= 1 else {
            throw TrainingError.invalidConfiguration(field: "min_lr_ratio", reason: "must be in 0...1, got \(ratio)")
        }
        try self.init(learningRate: learningRate, warmupSteps: warmupSteps, maxSteps: maxSteps,
                      minLearningRate: ratio * learningRate)
    }

    /// The learning rate of optimizer step `step` (0-based); pure.
    public func learningRate(at step: Int) -> Double {
        if step < warmupSteps { return learningRate * Double(step + 1) / Double(warmupSteps) }
        if step >= maxSteps { return minLearningRate }
        let ratio = Double(step - warmupSteps) / Double(maxSteps - warmupSteps)
        let coeff = 0.5 * (1 + cos(Double.pi * ratio))
        return minLearningRate + coeff * (learningRate - minLearningRate)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
