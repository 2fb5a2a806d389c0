// Generalized advantage estimation over response tokens.

/// Advantages and returns of a batch of responses.
public struct AdvantagesAndReturns: Equatable, Sendable {
    /// GAE advantages `[B*L]` (not whitened; 0 outside the mask).
    public var advantages: [Float]
    /// `advantages + values` `[B*L]`: the value-function targets (0 outside the mask).
    public var returns: [Float]
}

/// Generalized advantage estimation, backwards over each row:
/// `delta_t = r_t + gamma * V_{t+1} - V_t`, `A_t = delta_t + gamma * lam * A_{t+1}`, with `V_L = 0`,
/// `A_L = 0`; returns `R_t = A_t + V_t`. Rewards and values outside the mask are treated as 0
/// (TRL multiplies both by the mask), so the padding after a response does not leak into it.
///
/// Source: Schulman et al. 2016, "High-Dimensional Continuous Control Using Generalized Advantage
/// Estimation", eq. 16; TRL 0.x `PPOTrainer.compute_advantages` and PPOv2 step 6.
/// - Parameters:
///   - rewards: per-token rewards `[B*L]`.
///   - values: value-head predictions of the rollout policy `[B*L]`.
///   - mask: `[B*L]`, true for real response tokens, or nil for all.
///   - batchSize: B.
///   - responseLength: L.
///   - gamma: discount (TRL `gamma`, 1).
///   - lam: GAE lambda (TRL `lam`, 0.95).
/// - Returns: advantages and returns `[B*L]` (advantages still to be whitened by the trainer with
///   `maskedWhiten(_:mask:)`, as TRL does).
public func generalizedAdvantageEstimation(rewards: [Float], values: [Float], mask: [Bool]?,
                                           batchSize B: Int, responseLength L: Int,
                                           gamma: Float, lam: Float) -> AdvantagesAndReturns {
    precondition(rewards.count == B * L && values.count == B * L && (mask?.count ?? B * L) == B * L,
                 "GAE: rewards, values, mask must be [B*L]")
    var adv = [Float](repeating: 0, count: B * L)
    var ret = adv
    let g = Double(gamma), gl = Double(gamma) * Double(lam)
    for b in 0..<B {
        var lastgaelam = 0.0
        var nextValue = 0.0
        for t in stride(from: L - 1, through: 0, by: -1) {
            let i = b * L + t
            let on = mask?[i] ?? true
            let r = on ? Double(rewards[i]) : 0
            let v = on ? Double(values[i]) : 0
            let delta = r + g * nextValue - v
            lastgaelam = delta + gl * lastgaelam
            adv[i] = on ? Float(lastgaelam) : 0
            ret[i] = on ? Float(lastgaelam + v) : 0
            nextValue = v
        }
    }
    return AdvantagesAndReturns(advantages: adv, returns: ret)
}
