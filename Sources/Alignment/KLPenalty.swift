// Per-token KL estimators and the per-token PPO rewards (KL penalty + score at the last real token).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Estimators

/// Estimator of `KL(pi || pi_ref)` from one sampled token, with `log r = log pi_ref - log pi`.
/// Source: J. Schulman, "Approximating KL Divergence" (2020 blog post); TRL PPOv2 `kl_estimator`.
public enum KLEstimator: String, Codable, Sendable, CaseIterable {
    /// `k1 = -log r = log pi - log pi_ref` (unbiased, high variance, can be negative). TRL default.
    case k1
    /// `k2 = (log r)^2 / 2` (biased, low variance; TRL 0.x `kl_penalty="mse"`).
    case k2
    /// `k3 = (r - 1) - log r` (unbiased, low variance, always >= 0).
    case k3

    /// The estimate for one token.
    /// - Parameters:
    ///   - logProb: `log pi(token)` (nats).
    ///   - refLogProb: `log pi_ref(token)` (nats).
    @inline(__always) public func estimate(logProb: Float, refLogProb: Float) -> Float {
        let logr = Double(refLogProb) - Double(logProb)
        switch self {
        case .k1: return Float(-logr)
        case .k2: return Float(0.5 * logr * logr)
        case .k3: return Float(expm1(logr) - logr)
        }
    }
}

// MARK: - Per-token rewards

/// Per-token PPO rewards of a batch of responses and their parts.
public struct PerTokenRewards: Equatable, Sendable {
    /// `non_score_reward + score at the last real token` `[B*L]` (0 outside the mask).
    public var rewards: [Float]
    /// `-klCoef * kl` `[B*L]` (0 outside the mask).
    public var nonScoreRewards: [Float]
    /// The per-token KL estimate `[B*L]` (0 outside the mask).
    public var kl: [Float]
    /// Index (column) of each row's last real token `[B]`, where the score was added.
    public var scoreIndices: [Int]

    /// `objective/kl`: mean over rows of the summed per-token KL (nats per response).
    public var meanSequenceKL: Double { rowSumMean(kl) }
    /// `objective/non_score_reward`: mean over rows of the summed non-score reward.
    public var meanNonScoreReward: Double { rowSumMean(nonScoreRewards) }

    private func rowSumMean(_ x: [Float]) -> Double {
        let B = scoreIndices.count
        guard B > 0 else { return 0 }
        return x.reduce(0.0) { $0 + Double($1) } / Double(B)
    }
}

/// Per-token rewards: `-klCoef * kl_t` on every real response token, plus the sequence score on
/// each row's last real token (the EOS, or the last token when truncated).
///
/// Source: Ziegler et al. 2019, "Fine-Tuning Language Models from Human Preferences", §2.2;
/// TRL 0.x `PPOTrainer.compute_rewards` (score at `mask.nonzero()[-1]`) and PPOv2 (`non_score_reward
/// = -kl_coef * kl`, `kl_estimator`). TRL PPOv2 adds the score one position after the last real
/// token when there is room; we follow TRL 0.x and OpenRLHF (the last real token, which is where
/// the value of the final state is read).
/// - Parameters:
///   - scores: sequence scores `[B]` (reward model, normalised, with any missing-EOS penalty).
///   - logProbs: policy log-probabilities of the response tokens `[B*L]` (at the sampling temperature).
///   - refLogProbs: reference log-probabilities `[B*L]` (same temperature).
///   - mask: `[B*L]`, true for real response tokens (through the first EOS).
///   - batchSize: B.
///   - responseLength: L.
///   - klCoef: the KL coefficient (fixed, or the adaptive controller's current value).
///   - estimator: k1 (default), k2 or k3.
/// - Throws: `AlignmentError.emptyResponse` when a row has no real token.
public func perTokenRewards(scores: [Float], logProbs: [Float], refLogProbs: [Float], mask: [Bool],
                            batchSize B: Int, responseLength L: Int, klCoef: Float,
                            estimator: KLEstimator = .k1) throws -> PerTokenRewards {
    precondition(scores.count == B && logProbs.count == B * L && refLogProbs.count == B * L && mask.count == B * L,
                 "perTokenRewards: shapes must be scores [B], others [B*L]")
    var kl = [Float](repeating: 0, count: B * L)
    var nonScore = kl
    var idx = [Int](repeating: 0, count: B)
    for b in 0..<B {
        var last = -1
        for t in 0..<L where mask[b * L + t] {
            let k = estimator.estimate(logProb: logProbs[b * L + t], refLogProb: refLogProbs[b * L + t])
            kl[b * L + t] = k
            nonScore[b * L + t] = -klCoef * k
            last = t
        }
        guard last >= 0 else { throw AlignmentError.emptyResponse(row: b) }
        idx[b] = last
    }
    var rewards = nonScore
    for b in 0..<B { rewards[b * L + idx[b]] += scores[b] }
    return PerTokenRewards(rewards: rewards, nonScoreRewards: nonScore, kl: kl, scoreIndices: idx)
}
