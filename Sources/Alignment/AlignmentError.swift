// Errors of the Alignment math: each says what is wrong with which input and how to fix it.

/// An error from the RLHF math (losses, advantages, statistics, configurations).
public enum AlignmentError: Error, Equatable, CustomStringConvertible {
    /// Fewer than two unmasked elements: an unbiased variance (Bessel correction) is undefined.
    case tooFewElementsForVariance(count: Int, what: String)
    /// A response row has no real token (its mask is all false), so no score position exists.
    case emptyResponse(row: Int)
    /// A configuration field is out of range (TRL field name and reason).
    case invalidConfiguration(field: String, reason: String)
    /// The batch is empty.
    case emptyBatch(String)

    public var description: String {
        switch self {
        case let .tooFewElementsForVariance(count, what):
            return "cannot whiten \(what): \(count) unmasked element(s), need at least 2 for an unbiased variance; "
                + "use a larger batch or longer responses"
        case let .emptyResponse(row):
            return "response row \(row) has no real token (mask all false); every response needs at least one token"
        case let .invalidConfiguration(field, reason):
            return "invalid \(field): \(reason)"
        case let .emptyBatch(what):
            return "empty batch: \(what) needs at least one element"
        }
    }
}
