// Bradley-Terry training of a `RewardModel` on tokenized comparisons, with held-out evaluation, the
// response-length baseline and the reward normalisation fit.

import Foundation
import Logging
import Tensors
import Training

// MARK: - Data

/// One comparison as token sequences: prompt + chosen response and prompt + rejected response, each
/// already fitted into the context (see `fitToContext`).
public struct TokenizedComparison: Equatable, Sendable {
    /// Where it came from (e.g. `comparison 17`), for errors and logs.
    public var id: String
    /// Prompt + chosen response tokens.
    public var chosen: [Int32]
    /// Prompt + rejected response tokens.
    public var rejected: [Int32]
    /// Tokens of the chosen response alone (length baseline).
    public var chosenResponseLength: Int
    /// Tokens of the rejected response alone (length baseline).
    public var rejectedResponseLength: Int
    /// Bradley-Terry margin (nil: 0).
    public var margin: Float?

    public init(id: String, chosen: [Int32], rejected: [Int32], chosenResponseLength: Int, rejectedResponseLength: Int,
                margin: Float? = nil) {
        self.id = id; self.chosen = chosen; self.rejected = rejected
        self.chosenResponseLength = chosenResponseLength; self.rejectedResponseLength = rejectedResponseLength
        self.margin = margin
    }
}

/// Splits items into train and held-out parts with a seeded shuffle (xoshiro256**).
/// - Parameters:
///   - count: number of items.
///   - evalFraction: fraction held out, in [0, 1); at least one item is held out when it is > 0 and
///     `count >= 2`.
///   - seed: the shuffle's seed.
/// - Returns: indices `(train, eval)`, each sorted ascending.
public func trainEvalSplit(count: Int, evalFraction: Double, seed: UInt64) -> (train: [Int], eval: [Int]) {
    var idx = Array(0..<count)
    var rng = Xoshiro256StarStar(seed: seed)
    rng.shuffle(&idx)
    var nEval = Int((Double(count) * evalFraction).rounded())
    if evalFraction > 0 && count >= 2 { nEval = Swift.min(Swift.max(1, nEval), count - 1) }
    return (Array(idx[nEval...]).sorted(), Array(idx[..<nEval]).sorted())
}

/// Accuracy of "the shorter reply is the chosen one" (ties count 1/2, the expected accuracy of a
/// coin flip): the length baseline a reward model must beat.
public func lengthBaselineAccuracy(_ pairs: [TokenizedComparison]) -> Double {
    guard !pairs.isEmpty else { return 0 }
    var s = 0.0
    for p in pairs {
        if p.chosenResponseLength < p.rejectedResponseLength { s += 1 } else if p.chosenResponseLength == p.rejectedResponseLength { s += 0.5 }
    }
    return s / Double(pairs.count)
}

// MARK: - Trainer

/// One optimizer step's result.
public struct RewardStepResult: Sendable {
    /// The Bradley-Terry loss and its parts.
    public var loss: RewardModelLoss
    /// Accuracy, margin and reward statistics of the batch.
    public var metrics: RewardModelMetrics
    /// Global gradient norm before clipping.
    public var gradNorm: Float
}

/// Trains a `RewardModel` with the Bradley-Terry loss (TRL `RewardTrainer`): shuffled batches of
/// `per_device_train_batch_size` pairs, AdamW with a linear decay to 0 (HF Trainer's default
/// schedule), global-norm clipping at `max_grad_norm`.
/// Each batch runs chosen and rejected sequences in one right-padded forward of `2P` rows.
public final class RewardModelTrainer {
    /// The model being trained.
    public let model: RewardModel
    /// Hyper-parameters (TRL names).
    public let config: RewardConfig
    /// The optimiser over `model.trainableParameters`.
    public let optimizer: AdamW
    private let logger: Logger

    /// - Parameters:
    ///   - model: the reward model (its parameters are updated in place).
    ///   - config: TRL `RewardConfig`; `weight_decay` is 0 as in HF Trainer.
    ///   - logger: receives one debug line per step.
    public init(model: RewardModel, config: RewardConfig, logger: Logger) {
        self.model = model
        self.config = config
        self.logger = logger
        optimizer = AdamW(parameters: model.trainableParameters,
                          hyperparameters: .init(lr: Float(config.learningRate), weightDecay: 0))
    }

    /// Loss and gradients of one batch, without an optimizer step (side effect: *adds* into the
    /// parameters' gradients; call `model.backbone.zeroGradients()` and zero `score.grad` first).
    /// - Parameter batch: P >= 1 comparisons.
    /// - Returns: the loss (mean over the P pairs) and the batch's metrics.
    /// - Throws: `AlignmentError.emptyBatch` when the batch is empty.
    public func lossAndGradients(_ batch: [TokenizedComparison]) throws -> (RewardModelLoss, RewardModelMetrics) {
        guard !batch.isEmpty else { throw AlignmentError.emptyBatch("a reward-model batch") }
        let p = batch.count
        let raw = model.forward(batch.map(\.chosen) + batch.map(\.rejected))
        let chosen = Array(raw[..<p]), rejected = Array(raw[p...])
        let margins: [Float]? = batch.contains { $0.margin != nil } ? batch.map { $0.margin ?? 0 } : nil
        let loss = try bradleyTerryLoss(chosen: chosen, rejected: rejected, margins: margins,
                                        centerRewardsCoefficient: config.centerRewardsCoefficient)
        model.backward(dScores: loss.dChosen + loss.dRejected)
        return (loss, try rewardModelMetrics(chosen: chosen, rejected: rejected))
    }

    /// Zeroes every gradient of the reward model.
    public func zeroGradients() {
        model.backbone.zeroGradients()
        model.score.zeroGradient()
    }

    /// One optimizer step on a batch at learning rate `lr`.
    /// - Throws: `TrainerError.nonFinite` when the loss or gradient norm is NaN/inf (weights unchanged).
    public func step(_ batch: [TokenizedComparison], lr: Float, stepIndex: Int) throws -> RewardStepResult {
        zeroGradients()
        let (loss, metrics) = try lossAndGradients(batch)
        let norm = clipGradientNorm(model.trainableParameters, maxNorm: config.maxGradNorm)
        guard loss.loss.isFinite, norm.isFinite else { throw TrainerError.nonFinite(step: stepIndex, what: "reward-model loss or grad_norm") }
        optimizer.step(lr: lr)
        return RewardStepResult(loss: loss, metrics: metrics, gradNorm: norm)
    }

    /// Trains for `maxSteps` optimizer steps (or `num_train_epochs` passes when nil), calling
    /// `onStep(step, metrics)` after each with `loss`, `accuracy`, `margin`, `mean_reward`,
    /// `min_reward`, `max_reward`, `learning_rate`, `grad_norm`, `epoch`; return false to stop.
    /// - Parameters:
    ///   - pairs: training comparisons.
    ///   - maxSteps: optimizer steps, or nil for `numTrainEpochs` epochs.
    ///   - onStep: progress callback.
    /// - Returns: the number of steps taken.
    /// - Throws: `TrainerError.emptyData` (no pairs), `.nonFinite`.
    @discardableResult
    public func train(_ pairs: [TokenizedComparison], maxSteps: Int?, onStep: (Int, [String: Double]) throws -> Bool) throws -> Int {
        guard !pairs.isEmpty else { throw TrainerError.emptyData("no training comparisons") }
        let bs = config.perDeviceTrainBatchSize
        let perEpoch = (pairs.count + bs - 1) / bs
        let total = maxSteps ?? perEpoch * config.numTrainEpochs
        var rng = Xoshiro256StarStar(seed: config.seed)
        var order: [Int] = [], cursor = 0, epoch = 0
        for stepIndex in 1...Swift.max(1, total) {
            if cursor >= order.count {
                order = Array(pairs.indices); rng.shuffle(&order); cursor = 0; epoch += 1
            }
            let batch = order[cursor..<Swift.min(order.count, cursor + bs)].map { pairs[$0] }
            cursor += bs
            let lr = Float(config.learningRate * (1 - Double(stepIndex - 1) / Double(total)))
            let r = try step(batch, lr: lr, stepIndex: stepIndex)
            var m = r.metrics.named
            m["loss"] = Double(r.loss.loss)
            m["learning_rate"] = Double(lr)
            m["grad_norm"] = Double(r.gradNorm)
            let done = Double(Swift.min(cursor, order.count)) / Double(order.count)
            m["epoch"] = Double(epoch - 1) + done
            logger.debug("reward-model step", metadata: ["step": "\(stepIndex)", "loss": "\(r.loss.loss)"])
            if try !onStep(stepIndex, m) { return stepIndex }
        }
        return total
    }

    /// Loss and metrics on held-out comparisons (no gradients kept; batches of `batchSize` pairs).
    /// - Throws: `AlignmentError.emptyBatch` when `pairs` is empty.
    public func evaluate(_ pairs: [TokenizedComparison], batchSize: Int? = nil) throws -> (metrics: RewardModelMetrics, loss: Double) {
        let (c, r) = rawScores(pairs, batchSize: batchSize ?? config.perDeviceTrainBatchSize)
        let l = try bradleyTerryLoss(chosen: c, rejected: r, margins: pairs.contains { $0.margin != nil } ? pairs.map { $0.margin ?? 0 } : nil)
        return (try rewardModelMetrics(chosen: c, rejected: r), Double(l.loss))
    }

    /// Raw scores of the chosen and rejected sequences of `pairs`.
    public func rawScores(_ pairs: [TokenizedComparison], batchSize: Int) -> (chosen: [Float], rejected: [Float]) {
        var c: [Float] = [], r: [Float] = []
        var i = 0
        while i < pairs.count {
            let batch = Array(pairs[i..<Swift.min(pairs.count, i + Swift.max(1, batchSize))])
            let s = model.forward(batch.map(\.chosen) + batch.map(\.rejected))
            c += s[..<batch.count]; r += s[batch.count...]
            i += batch.count
        }
        return (c, r)
    }
}

// MARK: - Normalisation

extension RewardModel {
    /// Fits `normalization` so that the given sequences (samples of the reference policy, or held-out
    /// responses when no generator is at hand) score mean 0 and std 1 (side effect: sets `normalization`).
    /// - Parameters:
    ///   - sequences: prompt + response token lists.
    ///   - batchSize: sequences per forward.
    /// - Returns: the fitted normalisation.
    /// - Throws: `AlignmentError.tooFewElementsForVariance` with fewer than 2 sequences or zero spread.
    @discardableResult
    public func fitNormalization(on sequences: [[Int32]], batchSize: Int = 8) throws -> RewardNormalization {
        var m = RunningMoments()
        m.update(rawScores(sequences, batchSize: batchSize))
        normalization = try RewardNormalization(fitting: m)
        return normalization
    }
}
