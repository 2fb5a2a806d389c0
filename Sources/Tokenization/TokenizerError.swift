import Foundation

// MARK: - Errors

/// Errors of the tokenizer: bad training input, bad files, unsupported Hugging Face features.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    /// A corpus file does not exist or cannot be read.
    case corpusUnreadable(path: String, reason: String)
    /// The training corpus holds no text at all.
    case emptyCorpus(detail: String)
    /// `vocabSize` is below 256 bytes + the special tokens.
    case vocabSizeTooSmall(requested: Int, minimum: Int)
    /// A special token is empty, duplicated or collides with a single byte token.
    case invalidSpecialToken(token: String, reason: String)
    /// `tokenizer.json` (or a config file) is not valid JSON or misses a required key.
    case malformedTokenizerFile(path: String, key: String, reason: String)
    /// The file uses a Hugging Face component this implementation does not provide.
    case unsupported(path: String, key: String, value: String)
    /// Writing the output directory failed (nothing is left at the destination).
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .corpusUnreadable(path, reason):
            return "cannot read corpus file \(path): \(reason). Check the path passed with --corpus."
        case let .emptyCorpus(detail):
            return "the training corpus is empty (\(detail)). Pass at least one non-empty text file."
        case let .vocabSizeTooSmall(requested, minimum):
            return "vocabulary size \(requested) is too small: the 256 byte tokens plus the special tokens need at least \(minimum). Use --vocab-size \(minimum) or more."
        case let .invalidSpecialToken(token, reason):
            return "invalid special token \(token.debugDescription): \(reason)."
        case let .malformedTokenizerFile(path, key, reason):
            return "malformed tokenizer file \(path) at key '\(key)': \(reason). Re-create it with `rlhf tokenizer train` or Hugging Face tokenizers."
        case let .unsupported(path, key, value):
            return "\(path): '\(key)' = \(value) is not supported (byte-level BPE with a ByteLevel pre-tokenizer, no normalizer, is)."
        case let .writeFailed(path, reason):
            return "cannot write tokenizer to \(path): \(reason)."
        }
    }
}
