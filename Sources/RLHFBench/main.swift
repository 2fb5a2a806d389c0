// rlhf-bench: benchmarks of the numerical core, one subcommand per file.
import ArgumentParser

struct RLHFBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rlhf-bench", abstract: "Benchmarks (not tests); each prints its numbers and the peer's command.",
        subcommands: [GenerateBenchmark.self])
}

RLHFBench.main()
