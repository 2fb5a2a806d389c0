// DPO sigmoid loss (with cDPO label smoothing), its gradients and TRL's `rewards/*` metrics.

/// The DPO loss of a batch of pairs, its gradients w.r.t. the policy's sequence log-probabilities
/// and TRL's metrics.
public struct DPOLoss: Equatable, Sendable {
    /// Mean loss over pairs (nats).
    public var loss: Float
    /// Per-pair losses `[P]`.
    public var losses: [Float]
    /// d loss / d policy_chosen_logps `[P]`.
    public var dPolicyChosen: [Float]
    /// d loss / d policy_rejected_logps `[P]`.
    public var dPolicyRejected: [Float]
    /// Implicit rewards `beta * (pi_c - ref_c)` `[P]`.
    public var chosenRewards: [Float]
    /// Implicit rewards `beta * (pi_r - ref_r)` `[P]`.
    public var rejectedRewards: [Float]

    /// TRL's metrics: `rewards/chosen`, `rewards/rejected` (means), `rewards/accuracies`
    /// (fraction with chosen > rejected), `rewards/margins` (mean of chosen - rejected).
    public var metrics: [String: Double] {
        let P = Double(chosenRewards.count)
        var c = 0.0, r = 0.0, acc = 0.0, m = 0.0
        for i in chosenRewards.indices {
            c += Double(chosenRewards[i]); r += Double(rejectedRewards[i])
            if chosenRewards[i] > rejectedRewards[i] { acc += 1 }
            m += Double(chosenRewards[i]) - Double(rejectedRewards[i])
        }
        return ["rewards/chosen": c / P, "rewards/rejected": r / P, "rewards/accuracies": acc / P, "rewards/margins": m / P]
    }
}

/// DPO sigmoid loss: with `z = (pi_c - pi_r) - (ref_c - ref_r)` and label smoothing `e`,
/// `loss_i = -(1 - e) log sigmoid(beta z) - e log sigmoid(-beta z)`, averaged over pairs.
/// Gradient: `dloss/dz = beta (-(1 - e) sigmoid(-beta z) + e sigmoid(beta z)) / P`,
/// `d/dpi_c = dloss/dz`, `d/dpi_r = -dloss/dz`. Log-probabilities are sums over response tokens (nats).
///
/// Source: Rafailov et al. 2023, "Direct Preference Optimization", eq. 7; label smoothing: Mitchell 2023
/// ("cDPO"); TRL `DPOTrainer.dpo_loss` (`loss_type="sigmoid"`) and its metric names.
/// - Parameters:
///   - policyChosen: policy log-probabilities of the chosen responses `[P]`.
///   - policyRejected: policy log-probabilities of the rejected responses `[P]`.
///   - referenceChosen: reference log-probabilities of the chosen responses `[P]`.
///   - referenceRejected: reference log-probabilities of the rejected responses `[P]`.
///   - beta: TRL `beta` (0.1).
///   - labelSmoothing: TRL `label_smoothing` (0).
/// - Throws: `AlignmentError.emptyBatch` when `P == 0`.
public func dpoSigmoidLoss(policyChosen: [Float], policyRejected: [Float], referenceChosen: [Float],
                           referenceRejected: [Float], beta: Float, labelSmoothing: Float = 0) throws -> DPOLoss {
    let P = policyChosen.count
    precondition(policyRejected.count == P && referenceChosen.count == P && referenceRejected.count == P,
                 "all DPO inputs must have one value per pair")
    guard P > 0 else { throw AlignmentError.emptyBatch("the DPO loss") }
    let b = Double(beta), e = Double(labelSmoothing)
    var total = 0.0
    var losses = [Float](repeating: 0, count: P), dc = losses, dr = losses, rc = losses, rr = losses
    for i in 0..<P {
        let z = (Double(policyChosen[i]) - Double(policyRejected[i])) - (Double(referenceChosen[i]) - Double(referenceRejected[i]))
        let l = -(1 - e) * logSigmoid(b * z) - e * logSigmoid(-b * z)
        losses[i] = Float(l)
        total += l
        let g = b * (-(1 - e) * sigmoid(-b * z) + e * sigmoid(b * z)) / Double(P)
        dc[i] = Float(g); dr[i] = Float(-g)
        rc[i] = Float(b * (Double(policyChosen[i]) - Double(referenceChosen[i])))
        rr[i] = Float(b * (Double(policyRejected[i]) - Double(referenceRejected[i])))
    }
    return DPOLoss(loss: Float(total / Double(P)), losses: losses, dPolicyChosen: dc, dPolicyRejected: dr,
                   chosenRewards: rc, rejectedRewards: rr)
}
