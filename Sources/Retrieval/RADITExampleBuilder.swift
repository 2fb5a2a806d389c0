import Foundation
import Tensors

// MARK: - Example mix

/// The share of each kind of retrieval-augmented training example (normalised to sum to 1).
///
/// RA-DIT (Lin et al. 2023, sec. 2.2) fine-tunes the LM on retrieved passages that are sometimes
/// irrelevant, so the model learns to use a passage when it helps and to fall back on its own
/// knowledge when it does not; the closed-book share keeps the plain "Question/Answer" format alive.
public struct RAGExampleMix: Codable, Equatable, Sendable {
    /// Top-k retrieved passages, with a passage containing the answer among them.
    public var retrieved: Double
    /// Only passages that do not contain the answer (hard negatives from the same search).
    public var distractorOnly: Double
    /// No passage: the closed-book prompt.
    public var closedBook: Double
    /// Retrieved passages with the answer replaced by another question's answer of the same kind, which
    /// becomes the target (`CounterfactualSubstitution`; Longpre et al. 2021). 0 by default.
    public var counterfactual: Double

    enum CodingKeys: String, CodingKey {
        case retrieved
        case distractorOnly = "distractor_only"
        case closedBook = "closed_book"
        case counterfactual
    }

    /// Defaults: 70% retrieved, 15% distractor-only, 15% closed-book, no counterfactual.
    public init(retrieved: Double = 0.7, distractorOnly: Double = 0.15, closedBook: Double = 0.15, counterfactual: Double = 0) {
        self.retrieved = retrieved
        self.distractorOnly = distractorOnly
        self.closedBook = closedBook
        self.counterfactual = counterfactual
    }

    /// Decodes a mix; a missing `counterfactual` is 0 (mixes written before it existed).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        retrieved = try container.decode(Double.self, forKey: .retrieved)
        distractorOnly = try container.decode(Double.self, forKey: .distractorOnly)
        closedBook = try container.decode(Double.self, forKey: .closedBook)
        counterfactual = try container.decodeIfPresent(Double.self, forKey: .counterfactual) ?? 0
    }

    /// - Throws: `RetrievalError.invalidParameter` when a share is negative or all are 0.
    public func validate() throws {
        for (name, value) in [("retrieved", retrieved), ("distractor_only", distractorOnly), ("closed_book", closedBook),
                              ("counterfactual", counterfactual)]
        where !(value >= 0) || !value.isFinite {
            throw RetrievalError.invalidParameter(name: "mix.\(name)", value: "\(value)", expected: "a share >= 0")
        }
        guard retrieved + distractorOnly + closedBook + counterfactual > 0 else {
            throw RetrievalError.invalidParameter(name: "mix", value: "all 0", expected: "at least one share > 0")
        }
    }
}

/// Which kind of context a training example has.
public enum RAGExampleKind: String, Codable, Sendable, CaseIterable {
    /// Top-k retrieved passages, one containing the answer when it could be found.
    case retrieved
    /// Only passages without the answer.
    case distractorOnly = "distractor_only"
    /// No passage.
    case closedBook = "closed_book"
    /// Retrieved passages whose answer was substituted; the example's answer is the substitute.
    case counterfactual
}

/// One training example: the prompt (no loss) and the answer (loss), kept apart for loss masking.
public struct RAGTrainingExample: Codable, Equatable, Sendable {
    /// Id of the QA example it comes from.
    public var id: String
    /// Which context the prompt has.
    public var kind: RAGExampleKind
    /// The full prompt text, ending with `"Answer:"`.
    public var prompt: String
    /// The target: the first of the QA example's answers, or for `counterfactual` the substitute; encode with `RAGPromptTemplate.encode`.
    public var answer: String
    /// References (`doc#chunk`) of the passages in the prompt, in order.
    public var passages: [String]
    /// For `retrieved` and `counterfactual`: whether a passage containing the answer was found (in the
    /// top k, or deeper and swapped in). Always false for the other kinds.
    public var containsAnswer: Bool

    enum CodingKeys: String, CodingKey {
        case id, kind, prompt, answer, passages
        case containsAnswer = "contains_answer"
    }
}

// MARK: - Builder

/// Builds RA-DIT style training examples from QA pairs and a retriever.
///
/// Steps, for a given seed:
/// 1. Shuffle the questions with the seed and give the first `round(retrieved * n)` the kind
///    `retrieved`, the next `round(distractorOnly * n)` `distractorOnly`, the next
///    `round(counterfactual * n)` `counterfactual`, the rest `closedBook` (shares normalised to sum 1).
/// 2. `retrieved`: the top k chunks. If none contains an answer (`SQuADMetrics.contains`), the best
///    chunk containing one among the top `searchDepth` replaces a seeded-random slot.
/// 3. `distractorOnly`: the first k chunks of the top `searchDepth` that contain no answer.
/// 4. `closedBook`: no passage.
/// 5. `counterfactual`: as `retrieved`, then `CounterfactualSubstitution` (drawing from the answers of
///    the questions being built) swaps the answer in the passages and the target; when it cannot (no
///    gold passage, no verbatim answer, no candidate) the example stays a factual `retrieved` one.
/// The output keeps the input order of the questions.
public struct RADITExampleBuilder: Sendable {
    /// Where passages come from (the index).
    public var retriever: any Retriever
    /// The prompt format.
    public var template: RAGPromptTemplate
    /// Passages per open-book prompt.
    public var topK: Int
    /// Shares of the three kinds.
    public var mix: RAGExampleMix
    /// How deep to search for a gold passage to swap in or for distractors.
    public var searchDepth: Int
    /// Seed of the kind assignment and of the gold-passage slot.
    public var seed: UInt64
    /// Replacement names for `counterfactual` examples (`CounterfactualSubstitution.names(in:excluding:)`);
    /// empty: swaps among the answers being built only.
    public var counterfactualNames: [String] = []

    /// A builder; see the type's steps for the meaning of each parameter.
    /// - Throws: `RetrievalError.invalidParameter` for `topK < 1`, `searchDepth < topK` or a bad mix.
    public init(
        retriever: any Retriever, template: RAGPromptTemplate = RAGPromptTemplate(), topK: Int = 3,
        mix: RAGExampleMix = RAGExampleMix(), searchDepth: Int = 30, seed: UInt64 = 0
    ) throws {
        guard topK >= 1 else {
            throw RetrievalError.invalidParameter(name: "top_k", value: "\(topK)", expected: "at least 1")
        }
        guard searchDepth >= topK else {
            throw RetrievalError.invalidParameter(name: "search_depth", value: "\(searchDepth)", expected: "at least top_k (\(topK))")
        }
        try mix.validate()
        self.retriever = retriever
        self.template = template
        self.topK = topK
        self.mix = mix
        self.searchDepth = searchDepth
        self.seed = seed
    }

    /// The kind of each question, in input order (step 1 above).
    public func kinds(count: Int) -> [RAGExampleKind] {
        let total = mix.retrieved + mix.distractorOnly + mix.closedBook + mix.counterfactual
        let retrievedCount = Int((mix.retrieved / total * Double(count)).rounded())
        let distractorCount = min(count - retrievedCount, Int((mix.distractorOnly / total * Double(count)).rounded()))
        let counterfactualCount = min(count - retrievedCount - distractorCount,
                                      Int((mix.counterfactual / total * Double(count)).rounded()))
        var generator = SplitMix64(state: seed)
        let order = Array(0..<count).shuffled(using: &generator)
        var kinds = [RAGExampleKind](repeating: .closedBook, count: count)
        for (rank, index) in order.enumerated() {
            if rank < retrievedCount {
                kinds[index] = .retrieved
            } else if rank < retrievedCount + distractorCount {
                kinds[index] = .distractorOnly
            } else if rank < retrievedCount + distractorCount + counterfactualCount {
                kinds[index] = .counterfactual
            }
        }
        return kinds
    }

    /// One training example per question, in input order.
    /// - Parameters:
    ///   - questions: the training part of a QA set.
    ///   - progress: called with (questions done, total).
    /// - Throws: retriever errors.
    public func build(_ questions: [QAExample], progress: ((Int, Int) -> Void)? = nil) throws -> [RAGTrainingExample] {
        let kinds = kinds(count: questions.count)
        var generator = SplitMix64(state: seed ^ 0x5241_4449_5400_0000)
        var examples: [RAGTrainingExample] = []
        examples.reserveCapacity(questions.count)
        let substitution = mix.counterfactual > 0 ? CounterfactualSubstitution(questions: questions, names: counterfactualNames) : nil
        var substitutionGenerator = SplitMix64(state: seed ^ 0x4346_4143_5455_414C)
        for (index, question) in questions.enumerated() {
            var passages: [RetrievedChunk] = []
            var containsAnswer = false
            var kind = kinds[index]
            var answer = question.answers[0]
            let hasAnswer = { (chunk: RetrievedChunk) in
                question.answers.contains { SQuADMetrics.contains(passage: chunk.text, answer: $0) }
            }
            switch kinds[index] {
            case .retrieved, .counterfactual:
                let ranked = try retriever.search(question.question, topK: searchDepth)
                passages = Array(ranked.prefix(topK))
                if passages.contains(where: hasAnswer) {
                    containsAnswer = true
                } else if let gold = ranked.dropFirst(topK).first(where: hasAnswer) {
                    let slot = passages.isEmpty ? 0 : Int.random(in: 0..<passages.count, using: &generator)
                    if passages.isEmpty { passages = [gold] } else { passages[slot] = gold }
                    containsAnswer = true
                }
                if kind == .counterfactual {
                    if containsAnswer, let swapped = substitution?.substitute(
                        passages: passages, question: question.question, answers: question.answers,
                        using: &substitutionGenerator) {
                        passages = swapped.passages
                        answer = swapped.answer
                    } else {
                        kind = .retrieved
                    }
                }
            case .distractorOnly:
                let ranked = try retriever.search(question.question, topK: searchDepth)
                passages = Array(ranked.filter { !hasAnswer($0) }.prefix(topK))
            case .closedBook:
                passages = []
            }
            examples.append(RAGTrainingExample(
                id: question.id, kind: kind,
                prompt: template.prompt(question: question.question, passages: passages),
                answer: answer, passages: passages.map(\.reference), containsAnswer: containsAnswer))
            progress?(index + 1, questions.count)
        }
        return examples
    }
}
