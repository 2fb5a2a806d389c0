import ArgumentParser

/// The `rlhf` command: pretraining, RAG knowledge injection and RLHF of a Llama-style model.
///
/// The root only configures; each subcommand lives in its own file.
@main
struct RLHF: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rlhf",
        abstract: "Take a Llama-style model through pretraining, RAG knowledge injection and RLHF.",
        version: "0.1.0",
        subcommands: [
            ExportCommand.self,
            ImportHFCommand.self,
        ]
    )
}
