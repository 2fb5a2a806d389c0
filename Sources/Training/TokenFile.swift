// The binary token file: `NAME.bin` (raw little-endian token ids) + `NAME.json` (its header).
//
// Layout (version 1): `NAME.bin` holds `count` ids, each `uint16` when the vocabulary has at most
// 65,535 ids (as nanoGPT's `train.bin`), otherwise `uint32`, little-endian, no header, so numpy can
// read it with `np.memmap(path, dtype=np.uint16)`. `NAME.json` holds `TokenFileHeader`.
import Foundation

// MARK: - Dtype

/// The on-disk width of one token id.
public enum TokenDType: String, Codable, Sendable {
    /// Little-endian unsigned 16-bit ids (vocabularies up to 65,535 ids).
    case uint16
    /// Little-endian unsigned 32-bit ids.
    case uint32

    /// Bytes per token id.
    public var byteWidth: Int { self == .uint16 ? 2 : 4 }

    /// The narrowest dtype that holds ids `0..<vocabSize`: `uint16` when `vocabSize <= 65535`.
    public static func forVocabulary(size vocabSize: Int) -> TokenDType {
        vocabSize <= 65_535 ? .uint16 : .uint32
    }
}

// MARK: - Header

/// One document's place in a token file (tokens `start..<start + count`).
public struct TokenDocumentSpan: Codable, Equatable, Sendable {
    /// The document's id (e.g. a Project Gutenberg id such as `"1342"`).
    public var id: String
    /// Index of its first token in the file.
    public var start: Int
    /// Its number of tokens (separator excluded).
    public var count: Int

    public init(id: String, start: Int, count: Int) {
        self.id = id; self.start = start; self.count = count
    }
}

/// The JSON header (`NAME.json`) of a token file.
///
/// Keys are snake_case: `{"format": "rlhf-tokens", "version": 1, "dtype": "uint16", "count": N,
/// "vocab_size": V, "tokenizer_fingerprint": "...", "separator_token": 0, "documents": [...]}`.
public struct TokenFileHeader: Codable, Equatable, Sendable {
    /// Always `"rlhf-tokens"`.
    public var format: String = "rlhf-tokens"
    /// Format version; readers reject versions they do not know.
    public var version: Int = 1
    /// Width of each id in `NAME.bin`.
    public var dtype: TokenDType
    /// Number of token ids in `NAME.bin` (tokens).
    public var count: Int
    /// Vocabulary size of the tokenizer that produced the ids.
    public var vocabSize: Int
    /// An identifier of the exact tokenizer (e.g. SHA-256 of its `tokenizer.json`); trainers compare it.
    public var tokenizerFingerprint: String
    /// Token placed between documents (typically end-of-text), or nil when documents are concatenated.
    public var separatorToken: Int32?
    /// Document boundaries, in file order.
    public var documents: [TokenDocumentSpan]

    enum CodingKeys: String, CodingKey {
        case format, version, dtype, count, documents
        case vocabSize = "vocab_size"
        case tokenizerFingerprint = "tokenizer_fingerprint"
        case separatorToken = "separator_token"
    }

    public init(dtype: TokenDType, count: Int, vocabSize: Int, tokenizerFingerprint: String,
                separatorToken: Int32?, documents: [TokenDocumentSpan]) {
        self.dtype = dtype; self.count = count; self.vocabSize = vocabSize
        self.tokenizerFingerprint = tokenizerFingerprint; self.separatorToken = separatorToken
        self.documents = documents
    }
}

// MARK: - Paths

/// The two paths of a token file named by its base path (`DIR/train` → `DIR/train.bin`, `DIR/train.json`).
public struct TokenFilePaths: Equatable, Sendable {
    /// `BASE.bin`: raw ids.
    public var data: URL
    /// `BASE.json`: the header.
    public var header: URL

    /// Paths for base `base` (no extension), e.g. `URL(fileURLWithPath: "out/train")`.
    public init(base: URL) {
        data = base.appendingPathExtension("bin")
        header = base.appendingPathExtension("json")
    }
}
