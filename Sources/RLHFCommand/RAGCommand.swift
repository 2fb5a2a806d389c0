import ArgumentParser
import Retrieval

/// `rlhf rag`: knowledge indexes for retrieval-augmented generation (build, search, measure recall).
struct RAGCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rag",
        abstract: "Build and query knowledge indexes (SQLite FTS5, BM25) for retrieval-augmented generation.",
        subcommands: [RAGIndexCommand.self, RAGSearchCommand.self, RAGRecallCommand.self, RAGExamplesCommand.self, RAGEvalCommand.self]
    )
}

/// The `--knowledge` option shared by the commands that read an index.
struct KnowledgeOptions: ParsableArguments {
    @Option(name: .long, help: "Index directory (holding index.sqlite) or index file.")
    var knowledge: String

    @Option(name: .long, help: "BM25 weight of the title column relative to the body.")
    var titleWeight: Double = KnowledgeIndex.defaultTitleWeight
}
