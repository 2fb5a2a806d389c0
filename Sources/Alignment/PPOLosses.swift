// PPO's clipped policy loss and clipped value loss, with their gradients and TRL's metrics.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Policy

/// The clipped policy loss of a minibatch, its gradient and TRL's metrics.
public struct PolicyLoss: Equatable, Sendable {
    /// `loss/policy_avg`: masked mean of `max(-A r, -A clip(r, 1-c, 1+c))`.
    public var loss: Float
    /// d loss / d newLogProbs `[N]` (0 outside the mask and where the clipped term is taken).
    public var dNewLogProbs: [Float]
    /// `policy/clipfrac_avg`: masked fraction where the clipped term is strictly larger.
    public var clipFraction: Float
    /// `policy/approxkl_avg`: `0.5 * masked mean of (new - old)^2`.
    public var approxKL: Float
    /// `val/ratio`: masked mean of the ratio `exp(new - old)`.
    public var ratioMean: Float
    /// Masked mean of `old - new` (TRL 0.x `policy/policykl`).
    public var policyKL: Float
}

/// PPO clipped surrogate loss (to minimise): `L = mean_mask max(-A r, -A clip(r, 1 - c, 1 + c))`,
/// `r = exp(new - old)`. Gradient w.r.t. `new` on unmasked tokens: `-A r / n` where the unclipped
/// term is taken (`-A clip(r) <= -A r`), else 0 (`n` = number of masked tokens).
///
/// Source: Schulman et al. 2017, "Proximal Policy Optimization Algorithms", eq. 7; TRL 0.x
/// `PPOTrainer.loss` and PPOv2 (`pg_losses`, `pg_losses2`, `pg_clipfrac`, `approxkl`).
/// - Parameters:
///   - newLogProbs: log-probabilities of the sampled tokens under the policy being trained `[N]`.
///   - oldLogProbs: the same at rollout time `[N]` (constants).
///   - advantages: whitened advantages `[N]` (constants).
///   - mask: `[N]`, true for real response tokens, or nil for all.
///   - cliprange: TRL `cliprange` (0.2).
/// - Throws: `AlignmentError.emptyBatch` when no token is masked in.
public func clippedPolicyLoss(newLogProbs: [Float], oldLogProbs: [Float], advantages: [Float],
                              mask: [Bool]?, cliprange: Float) throws -> PolicyLoss {
    let N = newLogProbs.count
    precondition(oldLogProbs.count == N && advantages.count == N && (mask?.count ?? N) == N, "policy loss: shapes must match")
    let n = mask.map { $0.lazy.filter { $0 }.count } ?? N
    guard n > 0 else { throw AlignmentError.emptyBatch("the policy loss (no masked token)") }
    let c = Double(cliprange)
    var loss = 0.0, clipped = 0, approx = 0.0, ratioSum = 0.0, pkl = 0.0
    var grad = [Float](repeating: 0, count: N)
    for i in 0..<N where mask?[i] ?? true {
        let diff = Double(newLogProbs[i]) - Double(oldLogProbs[i])
        let ratio = exp(diff)
        let a = Double(advantages[i])
        let l1 = -a * ratio
        let l2 = -a * Swift.min(Swift.max(ratio, 1 - c), 1 + c)
        if l2 > l1 {
            clipped += 1
            loss += l2
        } else {
            loss += l1
            grad[i] = Float(-a * ratio / Double(n))
        }
        approx += diff * diff
        ratioSum += ratio
        pkl -= diff
    }
    let dn = Double(n)
    return PolicyLoss(loss: Float(loss / dn), dNewLogProbs: grad, clipFraction: Float(Double(clipped) / dn),
                      approxKL: Float(0.5 * approx / dn), ratioMean: Float(ratioSum / dn), policyKL: Float(pkl / dn))
}

// MARK: - Value

/// The clipped value loss of a minibatch, its gradient and TRL's metric.
public struct ValueLoss: Equatable, Sendable {
    /// `loss/value_avg`: `0.5 * masked mean of max((v - R)^2, (clip(v, v_old - c, v_old + c) - R)^2)`.
    public var loss: Float
    /// d loss / d newValues `[N]`: `(v - R) / n` where the unclipped term is taken, else 0.
    public var dNewValues: [Float]
    /// `val/clipfrac_avg`: masked fraction where the clipped term is strictly larger.
    public var clipFraction: Float
}

/// PPO clipped value loss (to minimise; the trainer adds `vfCoef *` it to the policy loss).
///
/// Source: the PPO2 baselines implementation (Dhariwal et al. 2017) as used by Ziegler et al. 2019;
/// TRL 0.x `PPOTrainer.loss` and PPOv2 (`vf_losses1`, `vf_losses2`, `vf_loss = 0.5 * masked_mean(max)`).
/// - Parameters:
///   - newValues: value-head predictions being trained `[N]`.
///   - oldValues: predictions at rollout time `[N]` (constants).
///   - returns: GAE returns `[N]` (constants).
///   - mask: `[N]`, or nil for all.
///   - cliprangeValue: TRL `cliprange_value` (0.2).
/// - Throws: `AlignmentError.emptyBatch` when no token is masked in.
public func clippedValueLoss(newValues: [Float], oldValues: [Float], returns: [Float], mask: [Bool]?,
                             cliprangeValue: Float) throws -> ValueLoss {
    let N = newValues.count
    precondition(oldValues.count == N && returns.count == N && (mask?.count ?? N) == N, "value loss: shapes must match")
    let n = mask.map { $0.lazy.filter { $0 }.count } ?? N
    guard n > 0 else { throw AlignmentError.emptyBatch("the value loss (no masked token)") }
    let c = Double(cliprangeValue)
    var loss = 0.0, clipped = 0
    var grad = [Float](repeating: 0, count: N)
    for i in 0..<N where mask?[i] ?? true {
        let v = Double(newValues[i]), old = Double(oldValues[i]), r = Double(returns[i])
        let vc = Swift.min(Swift.max(v, old - c), old + c)
        let l1 = (v - r) * (v - r)
        let l2 = (vc - r) * (vc - r)
        if l2 > l1 {
            clipped += 1
            loss += l2
        } else {
            loss += l1
            grad[i] = Float((v - r) / Double(n))
        }
    }
    return ValueLoss(loss: Float(0.5 * loss / Double(n)), dNewValues: grad, clipFraction: Float(Double(clipped) / Double(n)))
}
