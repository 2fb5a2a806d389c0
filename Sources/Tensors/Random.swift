// A small seeded generator with Codable state (for reproducible init and exact resume).

import Foundation

// MARK: - Random

/// SplitMix64-seeded xoshiro256** generator; its state is Codable so a trainer can save and resume it.
/// - Source: Blackman & Vigna 2018, "Scrambled Linear Pseudorandom Number Generators".
public struct Xoshiro256: RandomNumberGenerator, Codable, Sendable, Equatable {
    /// The four 64-bit state words.
    public var state: [UInt64]

    /// Seeds the state with SplitMix64 from `seed`.
    public init(seed: UInt64) {
        var x = seed
        var s = [UInt64]()
        for _ in 0..<4 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            s.append(z ^ (z >> 31))
        }
        state = s
    }

    /// The next 64 random bits (advances the state).
    public mutating func next() -> UInt64 {
        let result = ((state[1] &* 5) << 7 | (state[1] &* 5) >> 57) &* 9
        let t = state[1] << 17
        state[2] ^= state[0]
        state[3] ^= state[1]
        state[1] ^= state[2]
        state[0] ^= state[3]
        state[2] ^= t
        state[3] = (state[3] << 45) | (state[3] >> 19)
        return result
    }

    /// A uniform Double in [0, 1) with 53 random bits.
    public mutating func nextUniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A standard normal sample (Box-Muller; consumes two uniforms).
    public mutating func nextNormal() -> Double {
        let u1 = 1 - nextUniform(), u2 = nextUniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}
