// How prompts and responses become tokens for the reward model, PPO and DPO.

import Tokenization

/// Prompt and response tokens laid out as the pretraining data lays out documents: `[BOS] + prompt`,
/// then `response + [EOS]` (a finished response ends with EOS, where the reward model reads its score).
/// Prompt and response are encoded separately, so the boundary is a token boundary.
public struct RLHFTokenization: Sendable {
    /// The model's tokenizer.
    public let tokenizer: BPETokenizer

    public init(tokenizer: BPETokenizer) { self.tokenizer = tokenizer }

    /// `[BOS] + encode(text)` (no BOS when the tokenizer has none).
    public func prompt(_ text: String) -> [Int32] {
        (tokenizer.bosTokenId.map { [$0] } ?? []) + tokenizer.encode(text)
    }

    /// `encode(text) + [EOS]` (no EOS when the tokenizer has none).
    public func response(_ text: String) -> [Int32] {
        tokenizer.encode(text) + (tokenizer.eosTokenId.map { [$0] } ?? [])
    }
}
