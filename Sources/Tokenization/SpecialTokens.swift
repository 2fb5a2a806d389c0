// MARK: - Special tokens

/// The special tokens of a trained tokenizer, added before the byte alphabet (ids 0, 1, 2, then extras).
///
/// Defaults follow Llama 3: `<|begin_of_text|>` (BOS), `<|end_of_text|>` (EOS), plus a padding token
/// `<|pad|>` distinct from EOS ("The N Implementation Details of RLHF with PPO": a pad distinct from EOS).
public struct SpecialTokens: Sendable, Equatable, Codable {
    /// Beginning-of-sequence token, id 0 in a trained tokenizer.
    public var bos: String
    /// End-of-sequence (end of document) token, id 1.
    public var eos: String
    /// Padding token, id 2; never equal to `eos`.
    public var pad: String
    /// Further special tokens (e.g. chat markers), ids 3, 4, ... in order.
    public var extra: [String]

    /// Creates the set; all defaults are the Llama 3 spellings.
    public init(bos: String = "<|begin_of_text|>", eos: String = "<|end_of_text|>", pad: String = "<|pad|>",
                extra: [String] = []) {
        self.bos = bos
        self.eos = eos
        self.pad = pad
        self.extra = extra
    }

    /// All tokens in id order: bos, eos, pad, extras.
    public var all: [String] { [bos, eos, pad] + extra }

    /// Checks the set: non-empty, pairwise distinct, and none equal to a single byte-level character.
    /// - Throws: `TokenizerError.invalidSpecialToken` naming the offending token.
    public func validate() throws {
        var seen = Set<String>()
        for t in all {
            if t.isEmpty { throw TokenizerError.invalidSpecialToken(token: t, reason: "special tokens must not be empty") }
            if !seen.insert(t).inserted {
                throw TokenizerError.invalidSpecialToken(token: t, reason: "listed twice (bos, eos, pad and extras must all differ)")
            }
            if t.unicodeScalars.count == 1, ByteLevel.bytes(ofTokenString: t) != nil {
                throw TokenizerError.invalidSpecialToken(token: t, reason: "equals a byte token of the alphabet")
            }
        }
    }
}
