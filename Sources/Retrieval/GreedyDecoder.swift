import Foundation
import Llama
import Tokenization

// MARK: - Greedy decoding for evaluation

/// Batched greedy decoding for the RAG evaluation, on the KV-cache generator (`Llama.generate`).
///
/// Prompts are tokenized (BOS prepended when the tokenizer has one), cut from the left after BOS to fit
/// `max_position_embeddings - maxNewTokens` (the question sits at the end of a RAG prompt, so only
/// passage text is lost), left-padded together (`LlamaInput.leftPadded`: attention mask and
/// `position_ids = cumsum(mask) - 1`), and extended by the arg-max token until every row produced EOS
/// or a newline, or `maxNewTokens` tokens.
public struct GreedyDecoder {
    /// The model (one forward at a time; not thread-safe).
    public let model: LlamaModel
    /// Its tokenizer.
    public let tokenizer: BPETokenizer
    /// New tokens per prompt at most.
    public var maxNewTokens: Int
    /// Stop a row at its first generated newline (answers are one line).
    public var stopAtNewline: Bool

    /// A decoder.
    /// - Parameters:
    ///   - model: the model.
    ///   - tokenizer: the model's tokenizer (its EOS id ends a row).
    ///   - maxNewTokens: tokens generated per prompt at most (>= 1; clamped to leave one prompt token).
    ///   - stopAtNewline: end a row at its first newline.
    public init(model: LlamaModel, tokenizer: BPETokenizer, maxNewTokens: Int = 16, stopAtNewline: Bool = true) {
        self.model = model
        self.tokenizer = tokenizer
        self.maxNewTokens = max(1, min(maxNewTokens, model.config.maxPositionEmbeddings - 1))
        self.stopAtNewline = stopAtNewline
    }

    /// The prompt's token ids as the model sees them: BOS (when the tokenizer has one) and the prompt's
    /// tokens, cut from the left after BOS to at most `maxLength` tokens.
    public static func promptTokens(_ prompt: String, tokenizer: BPETokenizer, maxLength: Int) -> [Int32] {
        let head: [Int32] = tokenizer.bosTokenId.map { [$0] } ?? []
        var body = tokenizer.encode(prompt)
        let budget = max(1, maxLength - head.count)
        if body.count > budget { body = Array(body.suffix(budget)) }
        return head + body
    }

    /// Greedy completions of `prompts`, in order (decoded text without special tokens, cut at the first
    /// newline when `stopAtNewline`).
    /// - Parameter prompts: B prompt texts.
    /// - Returns: B completions.
    public func generate(_ prompts: [String]) -> [String] {
        guard !prompts.isEmpty else { return [] }
        let maxPrompt = model.config.maxPositionEmbeddings - maxNewTokens
        let eos = tokenizer.eosTokenId
        let pad = tokenizer.padTokenId ?? eos ?? 0
        let sequences = prompts.map { Self.promptTokens($0, tokenizer: tokenizer, maxLength: maxPrompt) }
        // KV-cache batched greedy decoding; rows stop at EOS (dropped from the text), the newline cut
        // below ends an answer at its first line.
        let config = GenerationConfig(maxNewTokens: maxNewTokens, temperature: 0, eosTokenId: eos, padTokenId: pad)
        let generated: [[Int32]]
        do {
            generated = try Llama.generate(model: model, prompts: sequences, config: config).tokens
                .map { row in row.filter { $0 != eos } }
        } catch {
            preconditionFailure("GreedyDecoder: prompts fit the context by construction: \(error)")
        }
        return generated.map { ids in
            let text = tokenizer.decode(ids, skipSpecial: true)
            guard stopAtNewline, let newline = text.firstIndex(of: "\n") else { return text }
            return String(text[..<newline])
        }
    }
}
