// Bradley-Terry pairwise loss of a reward model, its gradients and TRL-style metrics.

// MARK: - Loss

/// The reward-model loss of a batch of comparisons and its gradients.
public struct RewardModelLoss: Equatable, Sendable {
    /// Mean over pairs of `-log sigmoid(r_c - r_r - margin)` (+ the centring term, if any) (nats).
    public var loss: Float
    /// Per-pair Bradley-Terry losses `[P]` (nats), without the centring term.
    public var pairLosses: [Float]
    /// d loss / d r_chosen `[P]`.
    public var dChosen: [Float]
    /// d loss / d r_rejected `[P]`.
    public var dRejected: [Float]
}

/// Bradley-Terry loss `mean_i -log sigmoid(r_c,i - r_r,i - m_i)`, plus TRL's optional centring term
/// `centerRewardsCoefficient * mean_i (r_c,i + r_r,i)^2`, with its gradients.
///
/// Gradients: with `d_i = r_c,i - r_r,i - m_i` and `P` pairs, `dL/dr_c,i = -sigmoid(-d_i) / P + 2c(r_c,i + r_r,i)/P`,
/// `dL/dr_r,i = sigmoid(-d_i) / P + 2c(r_c,i + r_r,i)/P`.
///
/// Source: R. A. Bradley and M. E. Terry (1952); Ouyang et al. 2022 (InstructGPT) eq. 1; Touvron et
/// al. 2023 (Llama 2) §3.2.2 for the margin; TRL `RewardTrainer.compute_loss` (`reward_trainer.py`)
/// for the averaging and `center_rewards_coefficient` (Eisenstein et al. 2023).
/// - Parameters:
///   - chosen: rewards of the chosen responses `[P]` (the scalar head at the last real token).
///   - rejected: rewards of the rejected responses `[P]`.
///   - margins: per-pair margins `[P]`, or nil for 0.
///   - centerRewardsCoefficient: TRL's `center_rewards_coefficient`, or nil.
/// - Throws: `AlignmentError.emptyBatch` when `P == 0`.
/// - Precondition: all arrays have the same length.
public func bradleyTerryLoss(chosen: [Float], rejected: [Float], margins: [Float]? = nil,
                             centerRewardsCoefficient: Float? = nil) throws -> RewardModelLoss {
    let P = chosen.count
    precondition(rejected.count == P && (margins?.count ?? P) == P, "chosen, rejected, margins must have one value per pair")
    guard P > 0 else { throw AlignmentError.emptyBatch("the reward-model loss") }
    var total = 0.0
    var pair = [Float](repeating: 0, count: P)
    var dc = [Float](repeating: 0, count: P)
    var dr = [Float](repeating: 0, count: P)
    let c = Double(centerRewardsCoefficient ?? 0)
    for i in 0..<P {
        let d = Double(chosen[i]) - Double(rejected[i]) - Double(margins?[i] ?? 0)
        let l = -logSigmoid(d)
        pair[i] = Float(l)
        total += l
        let s = sigmoid(-d) / Double(P)
        let sum = Double(chosen[i]) + Double(rejected[i])
        total += c * sum * sum
        let center = 2 * c * sum / Double(P)
        dc[i] = Float(-s + center)
        dr[i] = Float(s + center)
    }
    return RewardModelLoss(loss: Float(total / Double(P)), pairLosses: pair, dChosen: dc, dRejected: dr)
}

// MARK: - Metrics

/// Evaluation metrics of a reward model on comparisons (the names: `accuracy`, `margin`,
/// `mean_reward`, `min_reward`, `max_reward`).
public struct RewardModelMetrics: Equatable, Sendable, Codable {
    /// Fraction of pairs with `r_c > r_r` (a tie counts as wrong).
    public var accuracy: Double
    /// Mean of `r_c - r_r`.
    public var margin: Double
    /// Standard deviation (population) of `r_c - r_r`.
    public var marginStd: Double
    /// Mean reward over all `2P` responses.
    public var meanReward: Double
    /// Minimum reward over all responses.
    public var minReward: Double
    /// Maximum reward over all responses.
    public var maxReward: Double
    /// Number of pairs.
    public var count: Int

    enum CodingKeys: String, CodingKey {
        case accuracy, margin, count
        case marginStd = "margin_std"
        case meanReward = "mean_reward"
        case minReward = "min_reward"
        case maxReward = "max_reward"
    }

    /// Metrics as `name: value` with the public names (`accuracy`, `margin`, `margin_std`,
    /// `mean_reward`, `min_reward`, `max_reward`).
    public var named: [String: Double] {
        ["accuracy": accuracy, "margin": margin, "margin_std": marginStd,
         "mean_reward": meanReward, "min_reward": minReward, "max_reward": maxReward]
    }
}

/// Computes `RewardModelMetrics` of `P` pairs.
/// - Parameters:
///   - chosen: rewards of the chosen responses `[P]`.
///   - rejected: rewards of the rejected responses `[P]`.
/// - Throws: `AlignmentError.emptyBatch` when `P == 0`.
public func rewardModelMetrics(chosen: [Float], rejected: [Float]) throws -> RewardModelMetrics {
    let P = chosen.count
    precondition(rejected.count == P, "chosen and rejected must have one value per pair")
    guard P > 0 else { throw AlignmentError.emptyBatch("reward-model metrics") }
    var correct = 0, sumM = 0.0, sumM2 = 0.0, sumR = 0.0
    var lo = Double.infinity, hi = -Double.infinity
    for i in 0..<P {
        let c = Double(chosen[i]), r = Double(rejected[i])
        if c > r { correct += 1 }
        sumM += c - r
        sumM2 += (c - r) * (c - r)
        sumR += c + r
        lo = Swift.min(lo, c, r); hi = Swift.max(hi, c, r)
    }
    let mean = sumM / Double(P)
    return RewardModelMetrics(accuracy: Double(correct) / Double(P), margin: mean,
                              marginStd: (Swift.max(0, sumM2 / Double(P) - mean * mean)).squareRoot(),
                              meanReward: sumR / Double(2 * P), minReward: lo, maxReward: hi, count: P)
}
