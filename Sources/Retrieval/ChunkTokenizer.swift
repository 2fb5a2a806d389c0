import Foundation

// MARK: - Token counting for chunking

/// What chunking needs from a tokenizer: token ids of a piece of text and a fingerprint of the vocabulary.
///
/// The index stores the fingerprint so that an index chunked with one tokenizer is not silently used
/// with a model that has another (chunk sizes would be wrong). Wrap the BPE tokenizer with
/// `ClosureTokenizer(fingerprint: sha256(tokenizer.json), tokenize: { bpe.encode($0) })`.
public protocol ChunkTokenizer: Sendable {
    /// A stable identifier of the vocabulary and merges (e.g. the SHA-256 of `tokenizer.json`).
    var fingerprint: String { get }
    /// Token ids of `text`, without special tokens (no BOS/EOS).
    func tokenize(_ text: String) -> [Int32]
}

/// A `ChunkTokenizer` made of a closure, to plug in any tokenizer.
public struct ClosureTokenizer: ChunkTokenizer {
    /// Stable identifier of the wrapped tokenizer.
    public let fingerprint: String
    private let body: @Sendable (String) -> [Int32]

    /// - Parameters:
    ///   - fingerprint: stable identifier of the tokenizer (stored in the index manifest).
    ///   - tokenize: token ids of a text, without special tokens.
    public init(fingerprint: String, tokenize: @escaping @Sendable (String) -> [Int32]) {
        self.fingerprint = fingerprint
        self.body = tokenize
    }

    /// Token ids of `text` from the wrapped closure.
    public func tokenize(_ text: String) -> [Int32] { body(text) }
}

/// A stand-in tokenizer: one token per whitespace-separated word (ids are a 31-bit FNV-1a hash of the word).
///
/// For chunking before the BPE tokenizer exists; a BPE tokenizer gives about 1.3-2 tokens per English
/// word, so a chunk of 100 words here is roughly 130-200 BPE tokens.
///
/// Example: `WhitespaceTokenizer().tokenize("Total area:\n  547,030 km2").count == 4`.
public struct WhitespaceTokenizer: ChunkTokenizer {
    /// The stand-in tokenizer (stateless).
    public init() {}

    /// `"whitespace-v1"`.
    public var fingerprint: String { "whitespace-v1" }

    /// One id per whitespace-separated word.
    public func tokenize(_ text: String) -> [Int32] {
        text.split(whereSeparator: { $0.isWhitespace }).map { word in
            var hash: UInt32 = 2_166_136_261
            for byte in word.utf8 {
                hash = (hash ^ UInt32(byte)) &* 16_777_619
            }
            return Int32(bitPattern: hash & 0x7FFF_FFFF)
        }
    }
}
