import Foundation

// MARK: - Question/answer examples

/// One question with its reference answers.
///
/// Read from the shared QA JSONL formats: factbook1992-rag and elements-rag lines have `answer` (a
/// string) and `doc_id`; xquad-en lines have `answers` (a list) and `passage_id`.
public struct QAExample: Codable, Equatable, Sendable {
    /// Unique id, e.g. `"fb92-00012"`.
    public var id: String
    /// The question text (non-empty).
    public var question: String
    /// Reference answers (at least one, none empty); metrics take the best over them.
    public var answers: [String]
    /// Id of the supporting document (`doc_id` or `passage_id`) when the file gives one.
    public var documentID: String?

    enum CodingKeys: String, CodingKey {
        case id, question, answers
        case documentID = "doc_id"
    }

    /// An example with the given fields (no validation; `QADataset` validates what it reads).
    public init(id: String, question: String, answers: [String], documentID: String? = nil) {
        self.id = id
        self.question = question
        self.answers = answers
        self.documentID = documentID
    }
}

/// Reading and splitting QA files.
public enum QADataset {
    /// Reads a QA JSONL file (blank lines skipped).
    /// - Parameter url: e.g. `pipelines/data/factbook1992-rag/qa_shared.jsonl`.
    /// - Returns: the examples in file order.
    /// - Throws: `RetrievalError.unreadable`, `.malformedJSON` (line), `.missingField` (line: no string
    ///   `id`, an empty `question`, no non-empty `answer` or `answers`), `.duplicateID`, `.emptyFile`.
    public static func load(contentsOf url: URL) throws -> [QAExample] {
        try examples(from: JSONLines.read(url), file: url.path)
    }

    /// Parses QA JSONL bytes; see `load(contentsOf:)`.
    public static func parse(_ data: Data, file: String = "<memory>") throws -> [QAExample] {
        try examples(from: JSONLines.parse(data, file: file), file: file)
    }

    static func examples(from records: [JSONLRecord], file: String) throws -> [QAExample] {
        guard !records.isEmpty else { throw RetrievalError.emptyFile(file: file) }
        var firstLine: [String: Int] = [:]
        var examples: [QAExample] = []
        for record in records {
            let object = record.object
            guard let id = object["id"] as? String, !id.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw RetrievalError.missingField(file: file, line: record.line, field: "id", expected: "a non-empty string")
            }
            guard let question = object["question"] as? String,
                  !question.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
            else {
                throw RetrievalError.missingField(
                    file: file, line: record.line, field: "question", expected: "a non-empty string")
            }
            var answers: [String]
            if let answer = object["answer"] as? String {
                answers = [answer]
            } else if let list = object["answers"] as? [Any] {
                answers = list.compactMap { $0 as? String }
                guard answers.count == list.count else {
                    throw RetrievalError.missingField(
                        file: file, line: record.line, field: "answers", expected: "a list of strings")
                }
            } else {
                throw RetrievalError.missingField(
                    file: file, line: record.line, field: "answer",
                    expected: "a string (or \"answers\": a list of strings)")
            }
            answers = answers.filter { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
            guard !answers.isEmpty else {
                throw RetrievalError.missingField(
                    file: file, line: record.line, field: "answer", expected: "at least one non-empty answer")
            }
            if let first = firstLine[id] {
                throw RetrievalError.duplicateID(file: file, line: record.line, id: id, firstLine: first)
            }
            firstLine[id] = record.line
            let documentID = (object["doc_id"] as? String) ?? (object["passage_id"] as? String)
            examples.append(QAExample(id: id, question: question, answers: answers, documentID: documentID))
        }
        return examples
    }

    // MARK: Splitting

    /// Splits examples into train and eval parts, deterministically from the seed and the ids only.
    ///
    /// Examples are ordered by a 64-bit FNV-1a hash of `"<seed>:<id>"`; the first
    /// `round(evalFraction * n)` go to eval. The split does not depend on file order, and the same
    /// seed and ids always give the same split. Each part keeps the input order.
    /// - Parameters:
    ///   - examples: the QA set.
    ///   - evalFraction: share held out for evaluation, in [0, 1].
    ///   - seed: split seed.
    /// - Returns: (train, eval).
    /// - Throws: `RetrievalError.invalidParameter` when `evalFraction` is outside [0, 1].
    public static func split(
        _ examples: [QAExample], evalFraction: Double, seed: UInt64
    ) throws -> (train: [QAExample], eval: [QAExample]) {
        guard evalFraction >= 0, evalFraction <= 1 else {
            throw RetrievalError.invalidParameter(name: "eval_fraction", value: "\(evalFraction)", expected: "a number in [0, 1]")
        }
        let evalCount = Int((evalFraction * Double(examples.count)).rounded())
        let order = examples.indices.sorted { a, b in
            let ha = stableHash("\(seed):\(examples[a].id)")
            let hb = stableHash("\(seed):\(examples[b].id)")
            return ha != hb ? ha < hb : examples[a].id < examples[b].id
        }
        let evalIndices = Set(order.prefix(evalCount))
        var train: [QAExample] = []
        var eval: [QAExample] = []
        for (index, example) in examples.enumerated() {
            if evalIndices.contains(index) { eval.append(example) } else { train.append(example) }
        }
        return (train, eval)
    }

    /// 64-bit FNV-1a of the UTF-8 bytes (stable across runs and platforms, unlike `Hasher`).
    static func stableHash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}
