// The trainers' seeded generator is `Tensors.Xoshiro256` (xoshiro256**, SplitMix64-seeded, Codable).

import Tensors

// MARK: - Former name

/// The former name of `Tensors.Xoshiro256` (the same generator: same seeding, same stream, same JSON
/// state `{"state": [4 words]}`), kept so that code written against it compiles unchanged.
/// New code should name `Xoshiro256`.
public typealias Xoshiro256StarStar = Xoshiro256
