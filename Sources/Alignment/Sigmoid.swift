// Numerically stable sigmoid helpers shared by the pairwise losses.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|))`, stable for any finite `x`.
@inline(__always) func logSigmoid(_ x: Double) -> Double {
    Swift.min(x, 0) - log1p(exp(-Swift.abs(x)))
}

/// `sigmoid(x) = 1 / (1 + exp(-x))`, evaluated without overflow.
@inline(__always) func sigmoid(_ x: Double) -> Double {
    x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x))
}
