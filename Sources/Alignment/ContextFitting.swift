// Fitting prompt + response token sequences into a model's context.

// MARK: - Truncation

/// Joins a prompt and a response into one sequence of at most `maxLength` tokens, truncating the
/// *beginning* of the prompt (left truncation: the end of the conversation, next to the response,
/// is what the score depends on most), then, if the response alone does not fit, its end.
///
/// Worked example: prompt `[0, 5, 6, 7]`, response `[8, 9, 1]`, `maxLength` 5 gives `[6, 7, 8, 9, 1]`;
/// prompt `[0, 5]`, same response, `maxLength` 3 gives `[5, 8, 9]` (at least one prompt token is kept,
/// the response loses its end); prompt `[0, 5, 6, 7]` with `maxLength` 4 throws.
/// - Parameters:
///   - prompt: prompt tokens (including a leading BOS when the model uses one).
///   - response: response tokens (including a trailing EOS when the response ended).
///   - maxLength: the context limit in tokens (>= 2).
///   - item: how to name the example in an error (e.g. `comparison 17`).
/// - Returns: `(tokens, promptTokensKept)`.
/// - Throws: `TrainerError.promptTooLong` when the prompt alone has `maxLength` tokens or more (no
///   room for a response): such data is rejected before training starts.
/// - Source: TRL `RewardTrainer`/`DPOTrainer` `truncation_mode="keep_end"` for the prompt.
public func fitToContext(prompt: [Int32], response: [Int32], maxLength: Int, item: String) throws -> (tokens: [Int32], promptTokens: Int) {
    precondition(maxLength >= 2, "maxLength must be >= 2")
    if prompt.count >= maxLength {
        throw TrainerError.promptTooLong(item: item, tokens: prompt.count, maxLength: maxLength)
    }
    if prompt.count + response.count <= maxLength { return (prompt + response, prompt.count) }
    let keepPrompt = Swift.min(prompt.count, Swift.max(1, maxLength - response.count))
    let keepResponse = maxLength - keepPrompt
    return (Array(prompt.suffix(keepPrompt)) + Array(response.prefix(keepResponse)), keepPrompt)
}

/// Fits both sequences of a comparison into `maxLength` tokens with the *same* prompt tokens: the prompt
/// is left-truncated for the longer response, then each response loses its end only if it alone is still
/// too long. The two sequences then differ only in their responses, so a shorter response keeps its EOS
/// (and its length) instead of both being cut to `maxLength` with different amounts of prompt.
///
/// Worked example: prompt `[0, 5, 6, 7]`, chosen `[8, 1]`, rejected `[9, 9, 9, 1]`, `maxLength` 6 gives
/// chosen `[6, 7, 8, 1]`, rejected `[6, 7, 9, 9, 9, 1]` (two prompt tokens kept for both).
/// - Parameters:
///   - prompt: prompt tokens (including a leading BOS when the model uses one).
///   - chosen: the preferred response's tokens (with a trailing EOS when it ended).
///   - rejected: the other response's tokens.
///   - maxLength: the context limit in tokens (>= 2).
///   - item: how to name the comparison in an error.
/// - Returns: `(chosen, rejected, promptTokens)`: the two sequences and the prompt tokens both keep.
/// - Throws: `TrainerError.promptTooLong` when the prompt alone has `maxLength` tokens or more.
/// - Source: TRL `DPOTrainer` tokenisation (prompt truncated for `max(len(chosen), len(rejected))`,
///   `truncation_mode="keep_end"`, then the responses).
public func fitPairToContext(prompt: [Int32], chosen: [Int32], rejected: [Int32], maxLength: Int,
                             item: String) throws -> (chosen: [Int32], rejected: [Int32], promptTokens: Int) {
    precondition(maxLength >= 2, "maxLength must be >= 2")
    if prompt.count >= maxLength {
        throw TrainerError.promptTooLong(item: item, tokens: prompt.count, maxLength: maxLength)
    }
    let longer = Swift.max(chosen.count, rejected.count)
    let keepPrompt = Swift.min(prompt.count, Swift.max(1, maxLength - longer))
    let head = Array(prompt.suffix(keepPrompt))
    let room = maxLength - keepPrompt
    return (head + chosen.prefix(room), head + rejected.prefix(room), keepPrompt)
}
