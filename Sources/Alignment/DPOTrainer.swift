// Direct Preference Optimization of a causal LM on tokenized comparisons (TRL DPOTrainer, sigmoid
// loss), with reference log-probabilities computed once before training (no second model in memory).
//
// Legend: P pairs per batch, R = 2P rows, T longest sequence, V vocab_size.

import Foundation
import Llama
import Logging
import Tensors
import Training

// MARK: - Data

/// One comparison for DPO: two prompt + response sequences (fitted into the context), where each
/// response starts, and the reference model's summed response log-probabilities.
public struct DPOPair: Equatable, Sendable {
    public var id: String
    /// Prompt + chosen response.
    public var chosen: [Int32]
    /// Index of the chosen response's first token in `chosen`.
    public var chosenPromptLength: Int
    /// Prompt + rejected response.
    public var rejected: [Int32]
    /// Index of the rejected response's first token in `rejected`.
    public var rejectedPromptLength: Int
    /// Reference `sum log pi_ref(chosen response)` (nats), set by `DPOTrainer.precomputeReference`.
    public var referenceChosen: Float = 0
    /// Reference `sum log pi_ref(rejected response)` (nats).
    public var referenceRejected: Float = 0

    public init(id: String, chosen: [Int32], chosenPromptLength: Int, rejected: [Int32], rejectedPromptLength: Int) {
        self.id = id; self.chosen = chosen; self.chosenPromptLength = chosenPromptLength
        self.rejected = rejected; self.rejectedPromptLength = rejectedPromptLength
    }
}

// MARK: - Trainer

/// DPO trainer (Rafailov et al. 2023; TRL `DPOTrainer` with `loss_type="sigmoid"`,
/// `precompute_ref_log_probs=True`): AdamW with linear decay to 0, global-norm clipping, metrics
/// `loss`, `rewards/chosen`, `rewards/rejected`, `rewards/accuracies`, `rewards/margins`,
/// `logps/chosen`, `logps/rejected`, `learning_rate`, `grad_norm`.
public final class DPOTrainer {
    public let policy: LlamaModel
    public let config: DPOConfig
    public let optimizer: AdamW
    private let logger: Logger

    public init(policy: LlamaModel, config: DPOConfig, logger: Logger) {
        self.policy = policy
        self.config = config
        self.logger = logger
        optimizer = AdamW(parameters: policy.parameters, hyperparameters: .init(lr: Float(config.learningRate), weightDecay: 0))
    }

    /// Summed response log-probabilities of R sequences in one right-padded forward (side effect:
    /// caches the forward; returns what `backward` needs).
    func forward(_ rows: [(tokens: [Int32], start: Int)]) -> (logps: [Float], input: LlamaInput, targets: [Int32], owner: [Int], logits: Tensor) {
        let r = rows.count, t = rows.map(\.tokens.count).max() ?? 1, v = policy.config.vocabSize
        let pad = Int32(policy.config.padTokenId ?? 0)
        var tokens = [Int32](repeating: pad, count: r * t), mask = [UInt8](repeating: 0, count: r * t)
        var targets = [Int32](repeating: 0, count: r * t), owner = [Int](repeating: -1, count: r * t)
        for (i, row) in rows.enumerated() {
            for (j, tok) in row.tokens.enumerated() { tokens[i * t + j] = tok; mask[i * t + j] = 1 }
            // Position j predicts token j + 1; response tokens are those at index >= start.
            for j in Swift.max(0, row.start - 1)..<(row.tokens.count - 1) { targets[i * t + j] = row.tokens[j + 1]; owner[i * t + j] = i }
        }
        let input = LlamaInput(tokens: tokens, batch: r, seqLen: t, attentionMask: mask)
        let out = policy.forward(input)
        let lp = gatherLogProbs(logits: UnsafeBufferPointer(start: out.logits!.data, count: r * t * v), tokens: targets, vocabSize: v)
        var sums = [Float](repeating: 0, count: r)
        for k in 0..<(r * t) where owner[k] >= 0 { sums[owner[k]] += lp[k] }
        return (sums, input, targets, owner, out.logits!)
    }

    /// Sets `referenceChosen`/`referenceRejected` of every pair from the current policy (call before
    /// training: the initial policy is the reference).
    public func precomputeReference(_ pairs: [DPOPair], batchSize: Int) -> [DPOPair] {
        var out = pairs
        var i = 0
        while i < pairs.count {
            let j = Swift.min(pairs.count, i + Swift.max(1, batchSize))
            let batch = pairs[i..<j]
            let lp = forward(batch.map { ($0.chosen, $0.chosenPromptLength) } + batch.map { ($0.rejected, $0.rejectedPromptLength) }).logps
            for k in 0..<batch.count { out[i + k].referenceChosen = lp[k]; out[i + k].referenceRejected = lp[batch.count + k] }
            i = j
        }
        return out
    }

    /// Loss, gradients (added into the policy's) and metrics of one batch.
    public func lossAndGradients(_ batch: [DPOPair]) throws -> (DPOLoss, [Float], [Float]) {
        let p = batch.count, v = policy.config.vocabSize
        let f = forward(batch.map { ($0.chosen, $0.chosenPromptLength) } + batch.map { ($0.rejected, $0.rejectedPromptLength) })
        let pc = Array(f.logps[..<p]), pr = Array(f.logps[p...])
        let loss = try dpoSigmoidLoss(policyChosen: pc, policyRejected: pr, referenceChosen: batch.map(\.referenceChosen),
                                      referenceRejected: batch.map(\.referenceRejected), beta: config.beta,
                                      labelSmoothing: config.labelSmoothing)
        let dSeq = loss.dPolicyChosen + loss.dPolicyRejected
        let weights = f.owner.map { $0 >= 0 ? dSeq[$0] : 0 }
        let n = f.input.batch * f.input.seqLen
        let dLogits = Tensor(shape: [n, v])
        let logits = f.logits   // the cached forward's logits (valid until the next forward)
        gatherLogProbsBackward(dlogits: UnsafeMutableBufferPointer(start: dLogits.data, count: n * v),
                               logits: UnsafeBufferPointer(start: logits.data, count: n * v), tokens: f.targets, weights: weights, vocabSize: v)
        policy.backward(dLogits: dLogits, dHidden: nil)
        return (loss, pc, pr)
    }

    /// Trains `maxSteps` steps (or `num_train_epochs` passes), calling `onStep(step, metrics)`.
    /// - Throws: `TrainerError.emptyData`, `.nonFinite`.
    @discardableResult
    public func train(_ pairs: [DPOPair], maxSteps: Int?, onStep: (Int, [String: Double]) throws -> Bool) throws -> Int {
        guard !pairs.isEmpty else { throw TrainerError.emptyData("no DPO training comparisons") }
        let bs = config.perDeviceTrainBatchSize
        let total = Swift.max(1, maxSteps ?? ((pairs.count + bs - 1) / bs) * config.numTrainEpochs)
        var rng = Xoshiro256StarStar(seed: config.seed)
        var order: [Int] = [], cursor = 0
        for stepIndex in 1...total {
            if cursor >= order.count { order = Array(pairs.indices); rng.shuffle(&order); cursor = 0 }
            let batch = order[cursor..<Swift.min(order.count, cursor + bs)].map { pairs[$0] }
            cursor += bs
            policy.zeroGradients()
            let (loss, pc, pr) = try lossAndGradients(batch)
            let norm = clipGradientNorm(policy.parameters, maxNorm: config.maxGradNorm)
            guard loss.loss.isFinite, norm.isFinite else { throw TrainerError.nonFinite(step: stepIndex, what: "DPO loss or grad_norm") }
            let lr = Float(config.learningRate * (1 - Double(stepIndex - 1) / Double(total)))
            optimizer.step(lr: lr)
            var m = loss.metrics
            m["loss"] = Double(loss.loss)
            m["logps/chosen"] = pc.reduce(0.0) { $0 + Double($1) } / Double(pc.count)
            m["logps/rejected"] = pr.reduce(0.0) { $0 + Double($1) } / Double(pr.count)
            m["learning_rate"] = Double(lr)
            m["grad_norm"] = Double(norm)
            if try !onStep(stepIndex, m) { return stepIndex }
        }
        return total
    }

    /// Held-out `eval_loss` and `eval_rewards/*` (no gradients kept).
    public func evaluate(_ pairs: [DPOPair], batchSize: Int) throws -> [String: Double] {
        var pc: [Float] = [], pr: [Float] = []
        var i = 0
        while i < pairs.count {
            let j = Swift.min(pairs.count, i + Swift.max(1, batchSize))
            let b = pairs[i..<j]
            let lp = forward(b.map { ($0.chosen, $0.chosenPromptLength) } + b.map { ($0.rejected, $0.rejectedPromptLength) }).logps
            pc += lp[..<b.count]; pr += lp[b.count...]
            i = j
        }
        let loss = try dpoSigmoidLoss(policyChosen: pc, policyRejected: pr, referenceChosen: pairs.map(\.referenceChosen),
                                      referenceRejected: pairs.map(\.referenceRejected), beta: config.beta, labelSmoothing: config.labelSmoothing)
        var m: [String: Double] = ["eval_loss": Double(loss.loss)]
        for (k, v) in loss.metrics { m["eval_" + k] = v }
        return m
    }
}
