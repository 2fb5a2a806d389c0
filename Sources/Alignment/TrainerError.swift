// Errors of the RLHF trainers (reward model, PPO, DPO): bad data and bad model directories, each
// saying what, where and how to fix it. Raised before any training starts whenever possible.

/// An error from a reward-model, PPO or DPO trainer, or from loading/saving their model directories.
public enum TrainerError: Error, Equatable, CustomStringConvertible {
    /// The comparison snapshot (or the part used for training) holds no pair.
    case emptyData(String)
    /// A prompt alone fills the context, so no response token fits (comparison id, tokens, limit).
    case promptTooLong(item: String, tokens: Int, maxLength: Int)
    /// The reward model and the policy were trained with different tokenizers (fingerprints).
    case tokenizerMismatch(policy: String, rewardModel: String)
    /// A model directory is missing a file or holds something unusable.
    case badModelDirectory(path: String, detail: String)
    /// A file could not be read or written.
    case io(path: String, detail: String)
    /// Training produced a non-finite loss or gradient norm (step and value).
    case nonFinite(step: Int, what: String)
    /// A feature is not available in this build.
    case unsupported(String)

    public var description: String {
        switch self {
        case let .emptyData(what):
            return "no data: \(what); import comparisons first (rlhf prefs import FILE --format hh-rlhf --dataset NAME)"
        case let .promptTooLong(item, tokens, maxLength):
            return "\(item): the prompt alone is \(tokens) tokens, which leaves no room for a response within max_length \(maxLength); "
                + "raise max_length (up to the model's max_position_embeddings), shorten the prompt, or set long_prompts: skip"
        case let .tokenizerMismatch(policy, rm):
            return "the reward model's tokenizer (fingerprint \(rm.prefix(12))) differs from the policy's (\(policy.prefix(12))); "
                + "train the reward model from the same base model as the policy"
        case let .badModelDirectory(path, detail):
            return "model directory \(path): \(detail)"
        case let .io(path, detail):
            return "\(path): \(detail)"
        case let .nonFinite(step, what):
            return "step \(step): \(what) is not finite; lower learning_rate or check the data"
        case let .unsupported(what):
            return "not supported: \(what)"
        }
    }
}
