// The project's one family of seeded generators: SplitMix64 and xoshiro256**, both with Codable state
// (reproducible initialisation, data order and sampling; exact resume from a checkpoint).
//
// Source: D. Blackman and S. Vigna, "Scrambled Linear Pseudorandom Number Generators" (ACM TOMS 2021),
// reference C code at https://prng.di.unimi.it/ (`xoshiro256starstar.c`, `splitmix64.c`); G. Steele,
// D. Lea and C. Flood, "Fast Splittable Pseudorandom Number Generators" (OOPSLA 2014) for SplitMix64.
// The same algorithms are in `scripts/reference/xoshiro.py`, so a PyTorch benchmark can draw the exact
// same training windows.

import Foundation

// MARK: - Errors

/// A generator state that cannot be restored.
public enum RandomStateError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The saved xoshiro256** state is not four words or is all zero; the detail says which.
    case invalidState(String)

    public var description: String {
        switch self {
        case let .invalidState(reason):
            return "invalid random generator state: \(reason); the checkpoint's trainer_state.json is corrupt or from another tool"
        }
    }
}

// MARK: - SplitMix64

/// SplitMix64: a 64-bit generator with one word of state. It expands one seed into xoshiro's 256-bit
/// state, and serves alone where a tiny generator is enough (shuffles and mixes of examples).
///
/// Worked example: `SplitMix64(state: 0).next()` is `0xE220A8397B1DCDAF`.
public struct SplitMix64: RandomNumberGenerator, Codable, Equatable, Sendable {
    /// The whole state (advances by the golden-ratio constant on each draw).
    public var state: UInt64

    /// Creates a generator whose next output derives from `state` (the seed; equal seeds give equal sequences).
    public init(state: UInt64) { self.state = state }

    /// Returns the next 64-bit output and advances the state.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

// MARK: - xoshiro256**

/// xoshiro256**: the generator behind every seeded draw (weight initialisation, LoRA init and dropout,
/// window offsets, hold-out selection, sampling). Its whole state is four `UInt64`s and it is `Codable`
/// (`{"state": [s0, s1, s2, s3]}`), so a checkpoint stores it and a resumed run continues the exact same
/// sequence.
///
/// Seeding: `init(seed:)` fills the state with four successive `SplitMix64(state: seed)` outputs, as the
/// authors recommend.
public struct Xoshiro256: RandomNumberGenerator, Codable, Equatable, Sendable {
    /// The 256-bit state `s[0...3]`; never all zero.
    public private(set) var state: [UInt64]

    /// Creates a generator seeded from `seed` through SplitMix64.
    /// - Parameter seed: any 64-bit value (0 is fine: SplitMix64 never yields an all-zero state here).
    public init(seed: UInt64) {
        var sm = SplitMix64(state: seed)
        state = [sm.next(), sm.next(), sm.next(), sm.next()]
    }

    /// Restores a generator from a saved state.
    /// - Throws: `RandomStateError.invalidState` when `state` is not four words or is all zero.
    public init(state: [UInt64]) throws {
        guard state.count == 4, state.contains(where: { $0 != 0 }) else {
            throw RandomStateError.invalidState("xoshiro256** state must be 4 words, not all zero; got \(state.count) words")
        }
        self.state = state
    }

    /// Decodes `{"state": [4 words]}`.
    /// - Throws: `RandomStateError.invalidState` (see `init(state:)`) or a `DecodingError`.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(state: try c.decode([UInt64].self, forKey: .state))
    }

    @inline(__always) private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 {
        (x << k) | (x >> (64 - k))
    }

    /// Returns the next 64-bit output and advances the state (`rotl(s1 * 5, 7) * 9`).
    public mutating func next() -> UInt64 {
        let result = Self.rotl(state[1] &* 5, 7) &* 9
        let t = state[1] << 17
        state[2] ^= state[0]
        state[3] ^= state[1]
        state[1] ^= state[2]
        state[0] ^= state[3]
        state[2] ^= t
        state[3] = Self.rotl(state[3], 45)
        return result
    }

    /// Returns an integer uniformly distributed in `0..<bound`, without modulo bias, advances the state.
    ///
    /// Algorithm (fixed, so other languages can reproduce it): D. Lemire, "Fast Random Integer
    /// Generation in an Interval" (ACM TOMACS 2019): `m = next() * bound` as a 128-bit product;
    /// if `low64(m) < bound`, reject while `low64(m) < (2^64 - bound) % bound`; return `high64(m)`.
    /// - Precondition: `bound > 0`.
    public mutating func nextInt(below bound: UInt64) -> UInt64 {
        precondition(bound > 0, "nextInt(below:) needs a positive bound")
        var m = next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold {
                m = next().multipliedFullWidth(by: bound)
            }
        }
        return m.high
    }

    /// Returns a `Double` uniformly distributed in `[0, 1)` from the top 53 bits of `next()`.
    public mutating func nextDouble() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// The former name of `nextDouble()` (same draw), kept so that code written against it compiles.
    @available(*, deprecated, renamed: "nextDouble()")
    public mutating func nextUniform() -> Double { nextDouble() }

    /// A standard normal sample (Box-Muller on `1 - nextDouble()` and `nextDouble()`; consumes two draws).
    public mutating func nextNormal() -> Double {
        let u1 = 1 - nextDouble(), u2 = nextDouble()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// Shuffles `array` in place (Fisher-Yates from the last index down, using `nextInt(below:)`).
    public mutating func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            let j = Int(nextInt(below: UInt64(i + 1)))
            array.swapAt(i, j)
        }
    }
}
