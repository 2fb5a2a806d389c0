// Shared decoding helper for the trainer configurations: unknown keys are errors, not silent typos.

struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// Throws `AlignmentError.invalidConfiguration` naming the first key of `decoder`'s object that is
/// not in `known` (e.g. `kl_coeff` instead of `kl_coef`).
func rejectUnknownKeys(_ decoder: Decoder, known: [String], config: String) throws {
    let c = try decoder.container(keyedBy: AnyCodingKey.self)
    let set = Set(known)
    if let bad = c.allKeys.map(\.stringValue).sorted().first(where: { !set.contains($0) }) {
        throw AlignmentError.invalidConfiguration(
            field: "\(config).\(bad)", reason: "unknown key; known keys: \(known.sorted().joined(separator: ", "))")
    }
}
