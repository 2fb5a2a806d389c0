// KL coefficient controllers: fixed, and adaptive (Ziegler et al. 2019).

/// A KL coefficient controller (`Codable` so a checkpoint stores its current value).
public enum KLController: Codable, Equatable, Sendable {
    /// A constant coefficient (TRL PPOv2 `kl_coef`, 0.05).
    case fixed(value: Float)
    /// Proportional control towards a target KL:
    /// `e = clip(KL / target - 1, -0.2, 0.2)`, `value *= 1 + e * nSteps / horizon`.
    /// Source: Ziegler et al. 2019, §2.2; TRL 0.x `AdaptiveKLController` (init 0.2, target 6, horizon 10000).
    case adaptive(value: Float, target: Float, horizon: Float)

    /// The coefficient to use for the next rollout (`kl_coef`).
    public var value: Float {
        switch self {
        case let .fixed(v): return v
        case let .adaptive(v, _, _): return v
        }
    }

    /// Updates the coefficient after a rollout (no-op when fixed).
    /// - Parameters:
    ///   - currentKL: the measured mean sequence KL of the rollout (`objective/kl`, nats).
    ///   - nSteps: episodes (responses) in that rollout (TRL passes the batch size).
    public mutating func update(currentKL: Float, nSteps: Int) {
        guard case let .adaptive(v, target, horizon) = self else { return }
        let e = Swift.min(Swift.max(Double(currentKL) / Double(target) - 1, -0.2), 0.2)
        let mult = 1 + e * Double(nSteps) / Double(horizon)
        self = .adaptive(value: Float(Double(v) * mult), target: target, horizon: horizon)
    }
}
