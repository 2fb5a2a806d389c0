import Foundation

/// Errors raised by the retrieval stage: bad knowledge-base or QA input, unusable indexes.
///
/// Every case says what is wrong, where (file and 1-based line, or index path) and how to fix it;
/// `description` is the message the CLI prints.
public enum RetrievalError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A JSONL line is not a JSON object.
    case malformedJSON(file: String, line: Int, reason: String)
    /// A required key is missing, empty or of the wrong type.
    case missingField(file: String, line: Int, field: String, expected: String)
    /// The same `id` appears on two lines.
    case duplicateID(file: String, line: Int, id: String, firstLine: Int)
    /// The file holds no record at all.
    case emptyFile(file: String)
    /// The file cannot be read.
    case unreadable(file: String, reason: String)
    /// A parameter is out of range (chunk size, overlap, top k, ratios...).
    case invalidParameter(name: String, value: String, expected: String)
    /// The index file is missing, not an index, or of an unsupported format version.
    case invalidIndex(path: String, reason: String)
    /// The index was chunked with another tokenizer than the one in use.
    case tokenizerMismatch(path: String, indexFingerprint: String, expectedFingerprint: String)
    /// A question is empty (after trimming whitespace).
    case emptyQuestion(id: String)
    /// The number of generated answers differs from the number of prompts.
    case generationCountMismatch(expected: Int, got: Int)

    /// The message for users: what, where, and how to fix it.
    public var description: String {
        switch self {
        case let .malformedJSON(file, line, reason):
            return "\(file):\(line): not a JSON object (\(reason)); each line must be one JSON object"
        case let .missingField(file, line, field, expected):
            return "\(file):\(line): key \"\(field)\" must be \(expected); add it or remove the line"
        case let .duplicateID(file, line, id, firstLine):
            return "\(file):\(line): duplicate id \"\(id)\" (first seen on line \(firstLine)); ids must be unique"
        case let .emptyFile(file):
            return "\(file): no records; expected one JSON object per line"
        case let .unreadable(file, reason):
            return "\(file): cannot read (\(reason))"
        case let .invalidParameter(name, value, expected):
            return "parameter \(name) = \(value) is invalid: expected \(expected)"
        case let .invalidIndex(path, reason):
            return "\(path): not a usable knowledge index (\(reason)); rebuild it with `rlhf rag index`"
        case let .tokenizerMismatch(path, indexFingerprint, expectedFingerprint):
            return "\(path): index was chunked with tokenizer \(indexFingerprint), but the model uses "
                + "\(expectedFingerprint); rebuild the index with the model's tokenizer"
        case let .emptyQuestion(id):
            return "question \(id) is empty; give it a non-empty \"question\""
        case let .generationCountMismatch(expected, got):
            return "generate returned \(got) answers for \(expected) prompts; it must return one answer per prompt"
        }
    }
}
