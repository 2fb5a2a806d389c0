import Foundation

// MARK: - Field questions from a knowledge base

/// Synthetic "What is the <field> of <entity>?" questions read from the `Field: value` lines of a
/// knowledge base, to give retrieval-augmented fine-tuning many more (and more varied) answers to copy
/// from a passage than a small QA file has.
///
/// A tiny model that has to learn to read an answer out of a passage from a few hundred questions tends
/// to memorise those answers instead; thousands of questions over every field of the documents make
/// copying the only way to lower the loss (RA-DIT, Lin et al. 2023, sec. 2.2, fine-tunes on a mix of
/// many tasks for the same reason). Two layouts are read:
/// - factbook1992-rag: a line `Capital:` followed by the value on lines indented by whitespace;
/// - elements-rag: `Symbol: H` on one line.
/// The entity is the document's `country` metadata, else its title before `" - "`, else the title. The
/// answer is the value's whitespace-collapsed text up to the first `"; "` or `" ("` (the rule of the
/// factbook QA file), kept when it has 1 to `maxAnswerWords` words and is not `NA`/`none`.
///
/// Held-out questions must stay unseen: a synthetic question is dropped when its text equals a held-out
/// question's (after SQuAD normalisation), or when it comes from a held-out question's document and its
/// answer contains, or is contained in, one of that question's answers (SQuAD-normalised tokens).
public enum FieldQuestionGenerator {
    /// The synthetic questions of `documents`, in document and line order, with ids `"<doc id>#<n>"`.
    /// - Parameters:
    ///   - documents: the knowledge base.
    ///   - heldOut: evaluation questions whose answers must not become training targets.
    ///   - maxAnswerWords: longest answer kept, in whitespace-separated words (>= 1).
    /// - Returns: questions with one answer each and `documentID` set.
    public static func questions(
        from documents: [KnowledgeDocument], excluding heldOut: [QAExample], maxAnswerWords: Int = 6
    ) -> [QAExample] {
        let heldOutQuestions = Set(heldOut.map { SQuADMetrics.normalize($0.question) })
        var heldOutAnswers: [String: [String]] = [:]
        for example in heldOut {
            guard let document = example.documentID else { continue }
            heldOutAnswers[document, default: []] += example.answers.map(SQuADMetrics.normalize)
        }
        var output: [QAExample] = []
        for document in documents {
            let entity = entityName(document)
            let blocked = heldOutAnswers[document.id] ?? []
            for (number, field) in fields(in: document.text).enumerated() {
                guard let answer = shortAnswer(field.value, maxWords: maxAnswerWords) else { continue }
                let question = "What is the \(field.label.lowercased()) of \(entity)?"
                let normalisedAnswer = SQuADMetrics.normalize(answer)
                guard !normalisedAnswer.isEmpty, !heldOutQuestions.contains(SQuADMetrics.normalize(question)),
                      !blocked.contains(where: { overlaps($0, normalisedAnswer) })
                else { continue }
                output.append(QAExample(id: "\(document.id)#\(number)", question: question, answers: [answer],
                                        documentID: document.id))
            }
        }
        return output
    }

    // MARK: Parsing

    /// The `(label, value)` pairs of a document text, in order; the value is whitespace-collapsed.
    static func fields(in text: String) -> [(label: String, value: String)] {
        var output: [(label: String, value: String)] = []
        var label: String?
        var value: [Substring] = []
        func flush() {
            if let label, !value.isEmpty {
                output.append((label, RAGPromptTemplate.collapseWhitespace(value.joined(separator: " "))))
            }
            label = nil
            value = []
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let indented = line.first.map { $0 == " " || $0 == "\t" } ?? false
            if indented {
                if label != nil { value.append(line) }
                continue
            }
            flush()
            guard let colon = line.firstIndex(of: ":") else { continue }
            let head = line[..<colon].trimmingCharacters(in: .whitespaces)
            guard isLabel(head) else { continue }
            label = head
            let rest = line[line.index(after: colon)...]
            if !rest.trimmingCharacters(in: .whitespaces).isEmpty { value.append(rest) }
        }
        flush()
        return output
    }

    /// A field label: 1 to 4 words of letters (and `-`, `/`), starting with an upper-case letter.
    static func isLabel(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, CharacterSet.uppercaseLetters.contains(first) else { return false }
        let words = text.split(separator: " ")
        return (1...4).contains(words.count)
            && text.unicodeScalars.allSatisfy { CharacterSet.letters.contains($0) || " -/".unicodeScalars.contains($0) }
    }

    /// The value up to the first `"; "` or `" ("`, when it has 1 to `maxWords` words and says something.
    static func shortAnswer(_ value: String, maxWords: Int) -> String? {
        var answer = value
        for separator in [";", " ("] {
            if let range = answer.range(of: separator) { answer = String(answer[..<range.lowerBound]) }
        }
        answer = answer.trimmingCharacters(in: .whitespaces)
        let words = answer.split(separator: " ").count
        guard words >= 1, words <= max(1, maxWords), !["na", "none", "negl"].contains(answer.lowercased()) else { return nil }
        return answer
    }

    /// The entity a document is about: `country` metadata, else the title before `" - "`.
    static func entityName(_ document: KnowledgeDocument) -> String {
        if let country = document.metadata["country"], !country.isEmpty { return country }
        if let range = document.title.range(of: " - ") { return String(document.title[..<range.lowerBound]) }
        return document.title
    }

    /// Whether one normalised answer's tokens appear, contiguous, in the other's.
    static func overlaps(_ a: String, _ b: String) -> Bool {
        SQuADMetrics.contains(passage: a, answer: b) || SQuADMetrics.contains(passage: b, answer: a)
    }
}
