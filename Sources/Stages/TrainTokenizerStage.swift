import Foundation
import Pipeline
import Tokenization

/// Stage kind `train-tokenizer`: trains a byte-level BPE tokenizer on corpus files; the artifact is the
/// tokenizer directory (`tokenizer.json`, `tokenizer_config.json`, `special_tokens_map.json`).
///
/// Parameters: `corpus` (path or list of paths: each file is one training text), `vocab_size`
/// (tokens, specials included), `special_tokens` (extra special tokens after BOS, EOS, PAD).
/// Metrics: `vocab_size`, `corpus_bytes`.
/// - Source: Sennrich et al. 2016 (BPE); HF tokenizers `BpeTrainer` (see `BPETokenizer.train`).
public struct TrainTokenizerStage: StageKind {
    public static let name = "train-tokenizer"
    public static let version = "1"
    public static let summary = "Train a byte-level BPE tokenizer (HF tokenizers-compatible tokenizer.json) on text files."
    public static let parameters: ParameterSchema = [
        ParameterSpec("corpus", .list(.path), required: "Text files to learn from (each file is one document)."),
        ParameterSpec("vocab_size", .int, default: .int(4096), doc: "Vocabulary size in tokens, special tokens included."),
        ParameterSpec("special_tokens", .list(.string), default: .list([]),
                      doc: "Extra special tokens (ids 3, 4, ... after <|begin_of_text|>, <|end_of_text|>, <|pad|>)."),
    ]
    public static let headlineMetrics = ["vocab_size"]

    public init() {}

    public func run(_ context: StageContext) async throws {
        let files = try context.params.paths("corpus")
        let vocab = try context.params.int("vocab_size")
        let extra = try context.params.strings("special_tokens")
        context.progress(0, "training BPE on \(files.count) file(s)")
        let tokenizer = try BPETokenizer.train(files: files, vocabSize: vocab, specialTokens: SpecialTokens(extra: extra),
                                               logger: context.logger) { p in
            context.progress(Double(p.merges) / Double(max(1, p.targetMerges)), "\(p.merges)/\(p.targetMerges) merges")
        }
        try tokenizer.save(directory: context.outputDirectory)
        let bytes = files.reduce(0) { $0 + ((try? FileManager.default.attributesOfItem(atPath: $1.path)[.size] as? Int) ?? 0) }
        context.metrics.log(step: 0, name: "vocab_size", value: Double(tokenizer.vocabSize))
        context.metrics.log(step: 0, name: "corpus_bytes", value: Double(bytes))
        context.progress(1, "vocabulary \(tokenizer.vocabSize)")
    }
}
