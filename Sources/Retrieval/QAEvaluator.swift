import Foundation

// MARK: - Results

/// Closed-book or open-book evaluation.
public enum QAEvaluationMode: String, Codable, Sendable {
    /// The prompt has no passage.
    case closedBook = "closed_book"
    /// The prompt has the top k retrieved passages.
    case openBook = "open_book"
}

/// The headline numbers of a QA evaluation; the JSON that `rlhf rag eval --json` prints.
public struct QAEvaluationResult: Codable, Equatable, Sendable {
    /// Mean SQuAD v1.1 exact match, in [0, 1].
    public var exactMatch: Double
    /// Mean SQuAD v1.1 token F1, in [0, 1].
    public var f1: Double
    /// Share of questions with an answer inside one of the top k retrieved chunks; nil without a retriever.
    public var recallAtK: Double?
    /// Questions evaluated.
    public var n: Int

    enum CodingKeys: String, CodingKey {
        case exactMatch = "exact_match"
        case f1
        case recallAtK = "recall_at_k"
        case n
    }

    /// A result with the given values.
    public init(exactMatch: Double, f1: Double, recallAtK: Double?, n: Int) {
        self.exactMatch = exactMatch
        self.f1 = f1
        self.recallAtK = recallAtK
        self.n = n
    }

    /// Encodes `recall_at_k` as `null` when absent (the default synthesised encoder would omit the key).
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(exactMatch, forKey: .exactMatch)
        try container.encode(f1, forKey: .f1)
        try container.encode(recallAtK, forKey: .recallAtK)
        try container.encode(n, forKey: .n)
    }
}

/// One evaluated question.
public struct QAPrediction: Codable, Equatable, Sendable {
    /// Id of the QA example.
    public var id: String
    /// The question asked.
    public var question: String
    /// The answer read from the generation (`RAGPromptTemplate.extractAnswer`).
    public var prediction: String
    /// The reference answers.
    public var answers: [String]
    /// SQuAD exact match of `prediction` (0 or 1).
    public var exactMatch: Double
    /// SQuAD token F1 of `prediction`.
    public var f1: Double
    /// References of the passages in the prompt (empty in closed-book mode).
    public var passages: [String]
    /// Whether an answer was inside one of the top k chunks; nil without a retriever.
    public var answerRetrieved: Bool?

    enum CodingKeys: String, CodingKey {
        case id, question, prediction, answers, passages
        case exactMatch = "exact_match"
        case f1
        case answerRetrieved = "answer_retrieved"
    }
}

/// A result and its per-question details.
public struct QAEvaluation: Codable, Equatable, Sendable {
    /// Closed or open book.
    public var mode: QAEvaluationMode
    /// Passages per prompt and k of recall@k.
    public var topK: Int
    /// The means.
    public var result: QAEvaluationResult
    /// One entry per question, in input order.
    public var predictions: [QAPrediction]

    enum CodingKeys: String, CodingKey {
        case mode
        case topK = "top_k"
        case result, predictions
    }
}

// MARK: - Evaluator

/// Evaluates a generator on QA pairs, closed-book or open-book, with SQuAD v1.1 EM and F1 and
/// retrieval recall@k. The model plugs in as a batched `generate` closure.
public struct QAEvaluator: Sendable {
    /// The prompt format (must be the one the model was tuned with).
    public var template: RAGPromptTemplate
    /// The index; required for open-book mode, optional for closed-book (then recall is still measured).
    public var retriever: (any Retriever)?
    /// Passages per open-book prompt and the k of recall@k.
    public var topK: Int
    /// Prompts per `generate` call.
    public var batchSize: Int

    /// An evaluator; `retriever` may be nil for closed-book runs without recall.
    /// - Throws: `RetrievalError.invalidParameter` when `topK < 1` or `batchSize < 1`.
    public init(template: RAGPromptTemplate = RAGPromptTemplate(), retriever: (any Retriever)?, topK: Int = 3, batchSize: Int = 8) throws {
        guard topK >= 1 else {
            throw RetrievalError.invalidParameter(name: "top_k", value: "\(topK)", expected: "at least 1")
        }
        guard batchSize >= 1 else {
            throw RetrievalError.invalidParameter(name: "batch_size", value: "\(batchSize)", expected: "at least 1")
        }
        self.template = template
        self.retriever = retriever
        self.topK = topK
        self.batchSize = batchSize
    }

    /// Builds the prompts, calls `generate` batch by batch and scores the answers.
    /// - Parameters:
    ///   - examples: QA pairs not used in training.
    ///   - mode: closed or open book.
    ///   - generate: greedy completions of a batch of prompts (`[B]` strings in, `[B]` out, same order).
    ///   - progress: called with (questions done, total) after each batch.
    /// - Returns: means over the examples (0 and n = 0 for no example) and the per-question details.
    /// - Throws: `RetrievalError.invalidParameter` for open book without a retriever,
    ///   `.emptyQuestion`, `.generationCountMismatch`; errors of `retriever` and `generate`.
    public func evaluate(
        _ examples: [QAExample], mode: QAEvaluationMode, generate: ([String]) throws -> [String],
        progress: ((Int, Int) -> Void)? = nil
    ) throws -> QAEvaluation {
        if mode == .openBook, retriever == nil {
            throw RetrievalError.invalidParameter(name: "knowledge", value: "none", expected: "an index for open-book evaluation")
        }
        var predictions: [QAPrediction] = []
        predictions.reserveCapacity(examples.count)
        var start = 0
        while start < examples.count {
            let batch = Array(examples[start..<min(start + batchSize, examples.count)])
            var prompts: [String] = []
            var retrieved: [[RetrievedChunk]] = []
            for example in batch {
                guard !example.question.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                    throw RetrievalError.emptyQuestion(id: example.id)
                }
                let chunks = try retriever?.search(example.question, topK: topK) ?? []
                retrieved.append(chunks)
                prompts.append(mode == .openBook
                    ? template.prompt(question: example.question, passages: chunks)
                    : template.closedBookPrompt(question: example.question))
            }
            let generations = try generate(prompts)
            guard generations.count == prompts.count else {
                throw RetrievalError.generationCountMismatch(expected: prompts.count, got: generations.count)
            }
            for (offset, example) in batch.enumerated() {
                let answer = template.extractAnswer(generations[offset])
                let found = retriever == nil ? nil : Self.answerRetrieved(example, in: retrieved[offset])
                predictions.append(QAPrediction(
                    id: example.id, question: example.question, prediction: answer, answers: example.answers,
                    exactMatch: SQuADMetrics.exactMatch(prediction: answer, groundTruths: example.answers),
                    f1: SQuADMetrics.f1(prediction: answer, groundTruths: example.answers),
                    passages: mode == .openBook ? retrieved[offset].map(\.reference) : [], answerRetrieved: found))
            }
            start += batch.count
            progress?(start, examples.count)
        }
        let n = predictions.count
        let mean = { (values: [Double]) in n == 0 ? 0 : values.reduce(0, +) / Double(n) }
        let recall: Double? = retriever == nil
            ? nil : mean(predictions.map { ($0.answerRetrieved ?? false) ? 1 : 0 })
        return QAEvaluation(
            mode: mode, topK: topK,
            result: QAEvaluationResult(
                exactMatch: mean(predictions.map(\.exactMatch)), f1: mean(predictions.map(\.f1)), recallAtK: recall, n: n),
            predictions: predictions)
    }

    /// Whether any answer occurs (as whole normalised tokens) in any of the chunks.
    public static func answerRetrieved(_ example: QAExample, in chunks: [RetrievedChunk]) -> Bool {
        chunks.contains { chunk in example.answers.contains { SQuADMetrics.contains(passage: chunk.text, answer: $0) } }
    }

    /// Retrieval recall@k for several k with one search per question (at the largest k).
    /// - Parameters:
    ///   - examples: QA pairs.
    ///   - retriever: the index.
    ///   - ks: the cut-offs, e.g. `[1, 3, 5]`; repeated values are counted once (`[1, 1]` is `[1]`).
    /// - Returns: k -> share of questions with an answer in the top k chunks (0 for no example).
    /// - Throws: `RetrievalError.invalidParameter` for an empty `ks` or a k < 1; retriever errors.
    public static func recall(_ examples: [QAExample], retriever: any Retriever, ks: [Int]) throws -> [Int: Double] {
        guard let maxK = ks.max(), let minK = ks.min(), minK >= 1 else {
            throw RetrievalError.invalidParameter(name: "k", value: "\(ks)", expected: "one or more cut-offs >= 1")
        }
        let cutoffs = Set(ks).sorted()
        var hits = [Int: Int]()
        for example in examples {
            let chunks = try retriever.search(example.question, topK: maxK)
            let firstHit = chunks.firstIndex { chunk in
                example.answers.contains { SQuADMetrics.contains(passage: chunk.text, answer: $0) }
            }
            for k in cutoffs where firstHit.map({ $0 < k }) ?? false { hits[k, default: 0] += 1 }
        }
        return Dictionary(uniqueKeysWithValues: cutoffs.map { ($0, examples.isEmpty ? 0 : Double(hits[$0] ?? 0) / Double(examples.count)) })
    }
}
