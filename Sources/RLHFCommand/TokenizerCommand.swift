import ArgumentParser

/// `rlhf tokenizer`: train, encode with, and decode with a byte-level BPE tokenizer.
struct TokenizerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Train a byte-level BPE tokenizer, or encode and decode with one.",
        subcommands: [TokenizerTrain.self, TokenizerEncode.self, TokenizerDecode.self]
    )
}

/// `--tokenizer DIR`, shared by `encode` and `decode`.
struct TokenizerDirectoryOption: ParsableArguments {
    @Option(name: .customLong("tokenizer"), help: ArgumentHelp("Tokenizer directory holding tokenizer.json.", valueName: "DIR"))
    var directory: String
}
