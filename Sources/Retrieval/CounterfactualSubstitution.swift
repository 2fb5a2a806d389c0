import Foundation
import Tensors

// MARK: - Counterfactual answer substitution

/// Replaces the answer inside retrieved passages with another question's answer of the same kind, so the
/// passage, not the model's memory, is the only way to the training target.
///
/// Source: Longpre et al. 2021, "Entity-Based Knowledge Conflicts in Question Answering", sec. 2
/// (corpus substitution: the gold answer in the context is swapped for another entity of the same type,
/// and training on such examples makes a reader rely on the context instead of memorised answers);
/// DisentQA (Neeman et al. 2022) trains on the same kind of counterfactual contexts.
///
/// A tiny reader fine-tuned on a few hundred questions learns the answers' priors: asked for Kabul, it
/// copies the first piece and completes it with a memorised capital ("Ka" + "mpala"). With a substituted
/// answer the prior is wrong by construction, so copying token by token is what lowers the loss.
///
/// "Same kind" is the question's text up to and including its first `" of "` (`"what is the capital of"`),
/// or its first four words when it has none, lower-cased: questions made from one template share it.
///
/// Names: a swap among the training answers still leaves a closed set of names the model can learn by
/// heart (asked for Kabul, it wrote "Khartou" after such training). With a list of `names` (capitalised
/// words of the knowledge base, `names(in:excluding:)`), an answer with a capitalised word of 3+ letters
/// is substituted by the same answer with each such word replaced by a random name ("Republic of
/// Moldova" -> "Republic of Tsumeb" or "Kivu of Tsumeb"), so the target is new every time and can only be
/// copied. Answers without one (numbers, "afghani") are swapped within their kind as above.
public struct CounterfactualSubstitution: Sendable {
    /// Candidate answers per question kind (distinct, in first-seen order).
    let pool: [String: [String]]
    /// All candidate answers, for kinds with a single answer.
    let everything: [String]
    /// Replacement words for capitalised answer words; empty: whole-answer swaps only.
    let names: [String]

    /// A substitution drawing from the answers of `questions` (the first answer of each) and, for answers
    /// with capitalised words, from `names`.
    public init(questions: [QAExample], names: [String] = []) {
        self.names = names
        var pool: [String: [String]] = [:]
        var seen: [String: Set<String>] = [:]
        var everything: [String] = []
        var seenAll = Set<String>()
        for question in questions {
            guard let answer = question.answers.first, !answer.isEmpty else { continue }
            let key = Self.kind(of: question.question)
            if seen[key, default: []].insert(answer).inserted { pool[key, default: []].append(answer) }
            if seenAll.insert(answer).inserted { everything.append(answer) }
        }
        self.pool = pool
        self.everything = everything
    }

    /// Draws tried per candidate list before giving up.
    static let draws = 16

    /// The template key of a question: its text up to and including the first `" of "`, else its first four
    /// words, lower-cased.
    public static func kind(of question: String) -> String {
        let lowered = question.lowercased()
        if let range = lowered.range(of: " of ") { return String(lowered[..<range.upperBound]) }
        return lowered.split(separator: " ").prefix(4).joined(separator: " ")
    }

    /// The passages with one of `answers` replaced by a substitute, and the substitute.
    ///
    /// The first answer found verbatim (case-sensitive, as whole words) in a passage is replaced at every
    /// such place in every passage, title included. The substitute is drawn (seeded) from answers of the
    /// same kind whose SQuAD-normalised form differs from every answer of the question and which no passage
    /// already contains; for an answer with a capitalised word, a name substitute (`nameSubstitute`) then
    /// takes its place when one qualifies (the draw above still runs, so the seeded stream is that of the
    /// measured runs in `benchmarks/results/rag-factbook.md`).
    /// - Parameters:
    ///   - passages: the prompt's passages, one holding an answer.
    ///   - question: the question text (chooses the kind).
    ///   - answers: the question's reference answers.
    ///   - generator: the seeded source of the draw.
    /// - Returns: `nil` when no answer appears verbatim or no candidate qualifies (the caller keeps the
    ///   factual example).
    public func substitute<G: RandomNumberGenerator>(
        passages: [RetrievedChunk], question: String, answers: [String], using generator: inout G
    ) -> (passages: [RetrievedChunk], answer: String)? {
        guard let original = answers.first(where: { answer in
            !answer.isEmpty && passages.contains { !Self.wordRanges(of: answer, in: $0.text).isEmpty }
        }) else { return nil }
        let normalisedAnswers = Set(answers.map(SQuADMetrics.normalize))
        let passageTokens = passages.map { SQuADMetrics.passageTokens($0.text) }   // once, not per candidate
        let eligible = { (candidate: String) in
            !normalisedAnswers.contains(SQuADMetrics.normalize(candidate))
                && !passageTokens.contains { SQuADMetrics.contains(passageTokens: $0, answer: candidate) }
        }
        // A few seeded draws from the kind's answers, then an exhaustive pass; then the same over all answers.
        var replacement: String?
        for candidates in [pool[Self.kind(of: question)] ?? [], everything] where !candidates.isEmpty {
            for _ in 0..<Self.draws {
                let candidate = candidates[Int.random(in: 0..<candidates.count, using: &generator)]
                if eligible(candidate) { replacement = candidate; break }
            }
            if replacement == nil {
                let remaining = candidates.filter(eligible)
                if !remaining.isEmpty { replacement = remaining[Int.random(in: 0..<remaining.count, using: &generator)] }
            }
            if replacement != nil { break }
        }
        if let named = nameSubstitute(for: original, eligible: eligible, using: &generator) { replacement = named }
        guard let replacement else { return nil }
        let substituted = passages.map { chunk -> RetrievedChunk in
            var chunk = chunk
            for range in Self.wordRanges(of: original, in: chunk.text).reversed() {
                chunk.text.replaceSubrange(range, with: replacement)
            }
            for range in Self.wordRanges(of: original, in: chunk.title).reversed() {
                chunk.title.replaceSubrange(range, with: replacement)
            }
            return chunk
        }
        return (substituted, replacement)
    }

    /// `answer` with each capitalised word of 3+ letters replaced by a random name, or nil (no such word,
    /// no names, or no eligible draw in a few tries).
    func nameSubstitute<G: RandomNumberGenerator>(
        for answer: String, eligible: (String) -> Bool, using generator: inout G
    ) -> String? {
        guard !names.isEmpty else { return nil }
        let words = answer.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        let replaceable = words.indices.filter { Self.isName(words[$0]) }
        guard !replaceable.isEmpty else { return nil }
        for _ in 0..<Self.draws {
            var output = words
            for index in replaceable { output[index] = names[Int.random(in: 0..<names.count, using: &generator)] }
            let candidate = output.joined(separator: " ")
            if candidate != answer, eligible(candidate) { return candidate }
        }
        return nil
    }

    /// A capitalised word of 3 or more letters and nothing else.
    static func isName(_ word: String) -> Bool {
        guard let first = word.first, first.isUppercase, word.count >= 3 else { return false }
        return word.allSatisfy(\.isLetter)
    }

    /// The distinct capitalised words (3+ letters only, `isName`) of `documents`' texts, in first-seen order,
    /// without the words of any of `excluded` answers (held-out answers never become targets).
    public static func names(in documents: [KnowledgeDocument], excluding excluded: [QAExample]) -> [String] {
        var blocked = Set<String>()
        for example in excluded {
            for answer in example.answers { blocked.formUnion(answer.split(whereSeparator: { !$0.isLetter }).map { $0.lowercased() }) }
        }
        var seen = Set<String>()
        var output: [String] = []
        for document in documents {
            for word in document.text.split(whereSeparator: { !$0.isLetter }) {
                let word = String(word)
                guard isName(word), !blocked.contains(word.lowercased()), seen.insert(word).inserted else { continue }
                output.append(word)
            }
        }
        return output
    }

    /// The ranges where `needle` occurs in `text` as whole words: not preceded or followed by a letter or
    /// digit (so "Li" is not found inside "Lithium", nor "1" inside "10").
    static func wordRanges(of needle: String, in text: String) -> [Range<String.Index>] {
        var output: [Range<String.Index>] = []
        var start = text.startIndex
        while let range = text.range(of: needle, range: start..<text.endIndex) {
            let before = range.lowerBound == text.startIndex ? nil : text[text.index(before: range.lowerBound)]
            let after = range.upperBound == text.endIndex ? nil : text[range.upperBound]
            if !(before.map(Self.isWordCharacter) ?? false), !(after.map(Self.isWordCharacter) ?? false) {
                output.append(range)
            }
            start = range.upperBound
        }
        return output
    }

    static func isWordCharacter(_ character: Character) -> Bool { character.isLetter || character.isNumber }
}
