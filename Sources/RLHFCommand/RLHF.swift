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
            RunCommand.self, StatusCommand.self, RunsCommand.self, ArtifactsCommand.self, CacheCommand.self, ReportCommand.self, MetricsCommand.self,
            DBCommand.self, PrefsCommand.self, LabelCommand.self,
            RAGCommand.self, AskCommand.self,
            TokenizerCommand.self,
            ExportCommand.self,
            ImportHFCommand.self,
            GenerateCommand.self, PerplexityCommand.self,
            TokenizerCommand.self, PretrainCommand.self,
            SampleCommand.self,
            RewardCommand.self,
        ]
    )
}
