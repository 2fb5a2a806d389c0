// PPO metrics under TRL's public names (PPOv2 trainer), from the pieces the trainer already has.

// MARK: - Rollout

/// Rollout metrics of one PPO iteration, named as TRL's PPOv2 trainer logs them:
/// `objective/kl` (mean over responses of the summed per-token KL), `objective/entropy` (mean over
/// responses of the summed `-log pi` of the sampled tokens, TRL's sample estimate),
/// `objective/non_score_reward` (mean summed `-kl_coef * kl`), `objective/scores` (mean score),
/// `objective/rlhf_reward` (`objective/scores + objective/non_score_reward`), `val/num_eos_tokens`
/// (responses containing EOS).
/// - Parameters:
///   - scores: scores added at the last real token `[B]` (after normalisation and penalties).
///   - rewards: the output of `perTokenRewards`.
///   - logProbs: rollout log-probabilities of the sampled tokens `[B*L]`.
///   - mask: `[B*L]` real response tokens.
///   - containsEOS: `[B]`.
/// - Returns: `name: value`.
public func rolloutMetrics(scores: [Float], rewards: PerTokenRewards, logProbs: [Float], mask: [Bool],
                           containsEOS: [Bool]) -> [String: Double] {
    let B = scores.count
    precondition(B > 0 && logProbs.count == mask.count && containsEOS.count == B, "rolloutMetrics: shapes")
    var negLogProb = 0.0
    for i in logProbs.indices where mask[i] { negLogProb -= Double(logProbs[i]) }
    let meanScore = scores.reduce(0.0) { $0 + Double($1) } / Double(B)
    let nonScore = rewards.meanNonScoreReward
    return [
        "objective/kl": rewards.meanSequenceKL,
        "objective/entropy": negLogProb / Double(B),
        "objective/non_score_reward": nonScore,
        "objective/scores": meanScore,
        "objective/rlhf_reward": meanScore + nonScore,
        "val/num_eos_tokens": Double(containsEOS.lazy.filter { $0 }.count),
    ]
}

// MARK: - Update

/// Averages the per-minibatch PPO statistics over all epochs and minibatches of an iteration, as
/// TRL's PPOv2 trainer does (`*_stats` tensors, then `.mean()`): `policy/approxkl_avg`,
/// `policy/clipfrac_avg`, `policy/entropy_avg`, `loss/policy_avg`, `loss/value_avg`,
/// `val/clipfrac_avg`, `val/ratio`, `val/ratio_var`.
public struct PPOUpdateMetrics: Equatable, Sendable {
    private var approxKL: [Double] = []
    private var policyClip: [Double] = []
    private var entropy: [Double] = []
    private var policyLoss: [Double] = []
    private var valueLoss: [Double] = []
    private var valueClip: [Double] = []
    private var ratio: [Double] = []

    public init() {}

    /// Adds one minibatch.
    /// - Parameters:
    ///   - policy: its `clippedPolicyLoss` output.
    ///   - value: its `clippedValueLoss` output.
    ///   - entropyMean: mean distribution entropy over its real tokens (nats), from `entropy(logits:...)`.
    public mutating func add(policy: PolicyLoss, value: ValueLoss, entropyMean: Double) {
        approxKL.append(Double(policy.approxKL)); policyClip.append(Double(policy.clipFraction))
        entropy.append(entropyMean); policyLoss.append(Double(policy.loss))
        valueLoss.append(Double(value.loss)); valueClip.append(Double(value.clipFraction))
        ratio.append(Double(policy.ratioMean))
    }

    /// Number of minibatches added.
    public var count: Int { ratio.count }

    /// The averages by TRL name (empty before any `add`).
    public var metrics: [String: Double] {
        guard !ratio.isEmpty else { return [:] }
        func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(x.count) }
        let rm = mean(ratio)
        // torch's Tensor.var() is unbiased; a single minibatch has variance 0 here (TRL would give NaN).
        let rv = ratio.count > 1 ? ratio.reduce(0) { $0 + ($1 - rm) * ($1 - rm) } / Double(ratio.count - 1) : 0
        return [
            "policy/approxkl_avg": mean(approxKL), "policy/clipfrac_avg": mean(policyClip),
            "policy/entropy_avg": mean(entropy), "loss/policy_avg": mean(policyLoss),
            "loss/value_avg": mean(valueLoss), "val/clipfrac_avg": mean(valueClip),
            "val/ratio": rm, "val/ratio_var": rv,
        ]
    }
}
