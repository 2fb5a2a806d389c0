// Errors of the Training target: each says what went wrong, where, and how to fix it.

/// An error from token data, sampling, schedules, checkpoints or the training loop.
public enum TrainingError: Error, Equatable, CustomStringConvertible {
    /// A token file or its JSON header is missing, truncated or inconsistent (path and reason).
    case invalidTokenFile(path: String, reason: String)
    /// A token id is outside the vocabulary (`0..<vocabSize`) or does not fit the file's dtype.
    case tokenOutOfRange(token: Int64, vocabSize: Int, document: String)
    /// The corpus holds fewer tokens than one training window (`seqLen + 1`).
    case corpusTooShort(tokens: Int, windowTokens: Int, path: String)
    /// No documents were given, or every document was empty.
    case emptyCorpus
    /// The hold-out selection leaves no training or no validation document.
    case invalidSplit(String)
    /// A configuration value is out of range (field name and reason).
    case invalidConfiguration(field: String, reason: String)
    /// A loss or gradient is NaN or infinite at a step; training stops there.
    case nonFinite(name: String, step: Int, value: Double, index: Int?)
    /// A file-system call failed (operation, path, errno text).
    case io(operation: String, path: String, reason: String)
    /// A manifest line cannot be parsed (file:line and reason).
    case invalidManifest(path: String, line: Int, reason: String)

    public var description: String {
        switch self {
        case let .invalidTokenFile(path, reason):
            return "invalid token file \(path): \(reason); rebuild it with the token data builder"
        case let .tokenOutOfRange(token, vocabSize, document):
            return "token id \(token) in document \(document) is outside the vocabulary 0..<\(vocabSize); "
                + "check that the tokenizer and the vocab size match"
        case let .corpusTooShort(tokens, window, path):
            return "corpus \(path) holds \(tokens) tokens, fewer than one window of \(window) (seq_len + 1); "
                + "use more text or a shorter sequence length"
        case .emptyCorpus:
            return "the corpus is empty: give at least one non-empty document"
        case let .invalidSplit(reason):
            return "invalid train/validation split: \(reason)"
        case let .invalidConfiguration(field, reason):
            return "invalid value for \(field): \(reason)"
        case let .nonFinite(name, step, value, index):
            let at = index.map { " (element \($0))" } ?? ""
            return "non-finite \(name) = \(value)\(at) at step \(step); training stopped, the last good "
                + "checkpoint is kept; lower the learning rate or check the data"
        case let .io(operation, path, reason):
            return "\(operation) failed for \(path): \(reason)"
        case let .invalidManifest(path, line, reason):
            return "\(path):\(line): \(reason)"
        }
    }
}
