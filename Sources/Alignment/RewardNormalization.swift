// Running reward statistics and the affine normalisation stored with a reward model.

// MARK: - Running moments

/// Running mean and variance of a stream of scalars (Chan et al. parallel update), `Codable` so a
/// checkpoint continues the exact statistics. Source: T. F. Chan, G. H. Golub, R. J. LeVeque,
/// "Updating Formulae and a Pairwise Algorithm for Computing Sample Variances" (1979); TRL/OpenRLHF
/// `RunningMoments` (population variance kept, unbiased std reported).
public struct RunningMoments: Codable, Equatable, Sendable {
    /// Number of values seen.
    public private(set) var count: Double = 0
    /// Their mean.
    public private(set) var mean: Double = 0
    /// Sum of squared deviations from the mean (M2).
    public private(set) var m2: Double = 0

    public init() {}

    /// Folds a batch of values in.
    /// - Parameter values: `[N]`.
    public mutating func update(_ values: [Float]) {
        guard !values.isEmpty else { return }
        let n = Double(values.count)
        let bMean = values.reduce(0.0) { $0 + Double($1) } / n
        let bM2 = values.reduce(0.0) { $0 + (Double($1) - bMean) * (Double($1) - bMean) }
        let delta = bMean - mean
        let total = count + n
        mean += delta * n / total
        m2 += bM2 + delta * delta * count * n / total
        count = total
    }

    /// Population variance `M2 / n` (0 before any value).
    public var variance: Double { count > 0 ? m2 / count : 0 }

    /// Unbiased standard deviation `sqrt(M2 / (n - 1))` (0 with fewer than 2 values).
    public var std: Double { count > 1 ? (m2 / (count - 1)).squareRoot() : 0 }
}

// MARK: - Normalisation

/// An affine map `gain * score + bias` chosen so that scores of reference-policy samples have the
/// target mean and standard deviation (0 and 1). Stored with the reward model (`Codable`), so a
/// reloaded model scores identically. Source: Ziegler et al. 2019, §2.2 ("we normalize the reward
/// model ... to have mean 0 and variance 1" on samples of the initial policy).
public struct RewardNormalization: Codable, Equatable, Sendable {
    /// Multiplier.
    public var gain: Float
    /// Offset.
    public var bias: Float

    /// The identity (gain 1, bias 0).
    public static let identity = RewardNormalization(gain: 1, bias: 0)

    public init(gain: Float, bias: Float) {
        self.gain = gain; self.bias = bias
    }

    /// Fits `gain = targetStd / std`, `bias = targetMean - gain * mean` to the moments.
    /// - Parameters:
    ///   - moments: statistics of raw scores of reference-policy samples (unbiased `std` is used).
    ///   - targetMean: 0 by default.
    ///   - targetStd: 1 by default.
    /// - Throws: `AlignmentError.tooFewElementsForVariance` with fewer than 2 samples or zero spread.
    public init(fitting moments: RunningMoments, targetMean: Float = 0, targetStd: Float = 1) throws {
        guard moments.count >= 2, moments.std > 0 else {
            throw AlignmentError.tooFewElementsForVariance(count: Int(moments.count), what: "reward scores (need >= 2 distinct)")
        }
        let g = Double(targetStd) / moments.std
        gain = Float(g)
        bias = Float(Double(targetMean) - g * moments.mean)
    }

    /// The normalised score.
    @inline(__always) public func apply(_ score: Float) -> Float { gain * score + bias }

    /// Normalised scores `[N]`.
    public func apply(_ scores: [Float]) -> [Float] { scores.map(apply) }
}
