// Response post-processing for PPO: truncate after the first EOS, masks, missing-EOS penalty.

/// Responses after truncation, with their masks.
public struct TruncatedResponses: Equatable, Sendable {
    /// Tokens `[B*L]`: everything after each row's first EOS replaced by the pad id.
    public var tokens: [Int32]
    /// `[B*L]`: true for real tokens (up to and including the first EOS; the whole row without one).
    public var mask: [Bool]
    /// Real tokens per row `[B]` (>= 1 when L >= 1).
    public var lengths: [Int]
    /// Whether each row contains an EOS `[B]` (`val/num_eos_tokens` is their count).
    public var containsEOS: [Bool]

    /// Index of each row's last real token `[B]` (where the reward model's score is read and where
    /// `perTokenRewards` adds it).
    public var lastRealTokenIndices: [Int] { lengths.map { Swift.max(0, $0 - 1) } }
}

/// Replaces every token after each row's first `eosTokenID` with `padTokenID` (the EOS itself is
/// kept) and returns the masks. Source: TRL PPOv2 `truncate_response` / `stop_token_id`; Huang et al.,
/// "The N Implementation Details of RLHF with PPO" (detail 23.3: truncate after EOS; pad distinct from EOS).
/// - Parameters:
///   - tokens: sampled response tokens `[B*L]`.
///   - batchSize: B.
///   - responseLength: L.
///   - eosTokenID: the stop token.
///   - padTokenID: the pad token (should differ from EOS).
public func truncateAfterFirstEOS(tokens: [Int32], batchSize B: Int, responseLength L: Int,
                                  eosTokenID: Int32, padTokenID: Int32) -> TruncatedResponses {
    precondition(tokens.count == B * L, "tokens must be [B*L]")
    var out = tokens
    var mask = [Bool](repeating: false, count: B * L)
    var lengths = [Int](repeating: L, count: B)
    var hasEOS = [Bool](repeating: false, count: B)
    for b in 0..<B {
        var seen = false
        for t in 0..<L {
            let i = b * L + t
            if seen { out[i] = padTokenID; continue }
            mask[i] = true
            if tokens[i] == eosTokenID {
                seen = true
                hasEOS[b] = true
                lengths[b] = t + 1
            }
        }
    }
    return TruncatedResponses(tokens: out, mask: mask, lengths: lengths, containsEOS: hasEOS)
}

/// Subtracts `penalty` from the score of every response without an EOS (TRL PPOv2
/// `missing_eos_penalty`: `scores[~contain_eos_token] -= missing_eos_penalty`; Huang et al. use 1).
/// - Parameters:
///   - scores: sequence scores `[B]`.
///   - containsEOS: `[B]`.
///   - penalty: a positive amount (nil: unchanged).
/// - Returns: the penalised scores `[B]`.
public func applyMissingEOSPenalty(scores: [Float], containsEOS: [Bool], penalty: Float?) -> [Float] {
    precondition(scores.count == containsEOS.count, "scores and containsEOS must be [B]")
    guard let penalty else { return scores }
    return zip(scores, containsEOS).map { $1 ? $0 : $0 - penalty }
}

/// Index of the last true element of each row of a `[B*L]` mask (the last non-padding token, where
/// a reward model reads its score), or nil for an all-false row.
/// - Parameters:
///   - mask: `[B*L]` (attention mask of a right-padded batch, or a response mask).
///   - batchSize: B.
///   - length: L.
public func lastTrueIndices(mask: [Bool], batchSize B: Int, length L: Int) -> [Int?] {
    precondition(mask.count == B * L, "mask must be [B*L]")
    return (0..<B).map { b in (0..<L).last { mask[b * L + $0] } }
}
