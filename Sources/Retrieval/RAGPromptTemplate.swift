import Foundation

// MARK: - Prompt template

/// The one prompt format of the RAG stage, used for training, evaluation and `rlhf ask`.
///
/// Open book (k passages, whitespace in each passage collapsed to single spaces):
/// ```
/// Passage [1] (France - Government): Long-form name: French Republic Type: republic Capital: Paris ...
/// Passage [2] (France - People): ...
/// Question: What is the capital of France?
/// Answer:
/// ```
/// Closed book is the same without the passage lines:
/// ```
/// Question: What is the capital of France?
/// Answer:
/// ```
/// The completion is `" " + answer`, followed in training by the EOS token
/// (`encode(prompt:answer:...)`), so a generation is read up to EOS or the first newline
/// (`extractAnswer`). Same shape as RA-DIT's LM fine-tuning prompt (Lin et al. 2023, sec. 2.2:
/// "Background: {retrieved passage} \n\n {instruction}"), with k passages numbered as in RAG
/// (Lewis et al. 2020).
public struct RAGPromptTemplate: Codable, Equatable, Sendable {
    /// Characters kept of each passage's text (after whitespace collapsing); nil keeps all.
    public var maxPassageCharacters: Int?

    /// - Parameter maxPassageCharacters: characters kept of each passage; nil keeps all.
    public init(maxPassageCharacters: Int? = nil) {
        self.maxPassageCharacters = maxPassageCharacters
    }

    /// The open-book prompt for `question` with `passages` (best first); with no passage it is the closed-book prompt.
    public func prompt(question: String, passages: [RetrievedChunk]) -> String {
        var text = ""
        for (number, passage) in passages.enumerated() {
            var body = Self.collapseWhitespace(passage.text)
            if let limit = maxPassageCharacters, body.count > limit { body = String(body.prefix(limit)) }
            text += "Passage [\(number + 1)] (\(Self.collapseWhitespace(passage.title))): \(body)\n"
        }
        return text + closedBookPrompt(question: question)
    }

    /// The closed-book prompt: `"Question: <question>\nAnswer:"`.
    public func closedBookPrompt(question: String) -> String {
        "Question: \(Self.collapseWhitespace(question))\nAnswer:"
    }

    /// The completion the model is trained to produce after the prompt: `" " + answer` (EOS added by `encode`).
    public func completion(answer: String) -> String {
        " " + Self.collapseWhitespace(answer)
    }

    /// The answer in a raw generation: the text before the first newline, trimmed.
    ///
    /// Example: `extractAnswer(" Paris\nQuestion: ...") == "Paris"`.
    public func extractAnswer(_ generation: String) -> String {
        let firstLine = generation.trimmingCharacters(in: .whitespaces).split(
            separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return firstLine.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    // MARK: Tokenized training sequences

    /// Token ids of prompt + completion + EOS with labels for a causal-LM loss on the answer only.
    ///
    /// `labels` is aligned with `inputIDs` (Hugging Face convention: the model shifts them by one);
    /// it is `-100` (ignored) on BOS and prompt tokens and equals `inputIDs` on the completion and EOS.
    /// When the sequence is longer than `maxLength`, prompt tokens are dropped from the left (after BOS),
    /// so the question and answer are kept; when the completion alone does not fit, it is cut at the right.
    /// - Parameters:
    ///   - prompt: output of `prompt(question:passages:)`.
    ///   - answer: the reference answer (the completion is `completion(answer:)`).
    ///   - tokenize: token ids without special tokens.
    ///   - bosTokenID: prepended when not nil.
    ///   - eosTokenID: appended after the answer.
    ///   - maxLength: maximum sequence length in tokens (>= 2).
    /// - Returns: `inputIDs` and `labels`, both `[T]` with `T <= maxLength`.
    public func encode(
        prompt: String, answer: String, tokenize: (String) -> [Int32], bosTokenID: Int32?, eosTokenID: Int32,
        maxLength: Int
    ) -> (inputIDs: [Int32], labels: [Int32]) {
        let head: [Int32] = bosTokenID.map { [$0] } ?? []
        var promptIDs = tokenize(prompt)
        var answerIDs = tokenize(completion(answer: answer)) + [eosTokenID]
        let budget = max(0, maxLength - head.count)
        if answerIDs.count > budget { answerIDs = Array(answerIDs.prefix(budget)) }
        let promptBudget = budget - answerIDs.count
        if promptIDs.count > promptBudget { promptIDs = Array(promptIDs.suffix(promptBudget)) }
        let inputIDs = head + promptIDs + answerIDs
        let labels = [Int32](repeating: -100, count: head.count + promptIDs.count) + answerIDs
        return (inputIDs, labels)
    }

    static func collapseWhitespace(_ text: String) -> String {
        text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }
}
