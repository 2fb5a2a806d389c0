import ArgumentParser
import Foundation
import Logging
import Tokenization

/// `rlhf tokenizer train --corpus FILE... --vocab-size N --out DIR`.
struct TokenizerTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a byte-level BPE tokenizer and write DIR/tokenizer.json, tokenizer_config.json, special_tokens_map.json.",
        discussion: """
            Each corpus file is one document, split with GPT-2's pre-tokenization pattern. Ids: special tokens \
            first (bos 0, eos 1, pad 2, extras), then the 256 bytes, then the merges. The saved post-processor \
            prepends the BOS token (as Llama 3).
            """
    )

    @Option(name: .customLong("corpus"), parsing: .upToNextOption, help: ArgumentHelp("Corpus text files.", valueName: "FILE"))
    var corpus: [String] = []

    @Option(name: .customLong("vocab-size"), help: "Vocabulary size in tokens, special tokens included (at least 256 + specials).")
    var vocabSize: Int

    @Option(name: .customLong("out"), help: ArgumentHelp("Output directory (written atomically).", valueName: "DIR"))
    var out: String

    @Option(name: .customLong("bos-token"), help: "Beginning-of-sequence token.")
    var bosToken = SpecialTokens().bos

    @Option(name: .customLong("eos-token"), help: "End-of-sequence token.")
    var eosToken = SpecialTokens().eos

    @Option(name: .customLong("pad-token"), help: "Padding token (must differ from the EOS token).")
    var padToken = SpecialTokens().pad

    @Option(name: .customLong("special-token"), help: "An extra special token (repeatable).")
    var extraSpecialTokens: [String] = []

    func validate() throws {
        if corpus.isEmpty { throw ValidationError("Give at least one corpus file with --corpus FILE.") }
        if vocabSize <= 0 { throw ValidationError("--vocab-size must be a positive number of tokens, e.g. 4096.") }
    }

    func run() throws {
        let logger = Logger(label: "rlhf.tokenizer") { StreamLogHandler.standardError(label: $0) }
        let specials = SpecialTokens(bos: bosToken, eos: eosToken, pad: padToken, extra: extraSpecialTokens)
        let start = Date()
        let tokenizer = try BPETokenizer.train(files: corpus.map { URL(fileURLWithPath: $0) }, vocabSize: vocabSize,
                                               specialTokens: specials, logger: logger)
        let seconds = Date().timeIntervalSince(start)
        try tokenizer.save(directory: URL(fileURLWithPath: out))
        print("wrote \(out)/tokenizer.json: vocab_size \(tokenizer.vocabSize), \(tokenizer.merges.count) merges, "
              + "trained in \(String(format: "%.2f", seconds)) s, fingerprint \(tokenizer.fingerprint)")
    }
}
