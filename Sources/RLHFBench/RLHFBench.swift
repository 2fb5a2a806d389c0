// rlhf-bench: benchmarks of the numerical core (not tests: no timing asserts; run side by side with the
// PyTorch peers under benchmarks/).

import ArgumentParser

/// The `rlhf-bench` command. The root only configures; each subcommand lives in its own file and is
/// listed in `subcommands` (one entry per line, so adding one is a one-line change).
@main
struct RLHFBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rlhf-bench",
        abstract: "Benchmarks of the rlhf numerical core (run with `swift run -c release rlhf-bench ...`).",
        subcommands: [
            TrainStepBenchmark.self,
            SGEMMBenchmark.self,
            GenerateBenchmark.self,
            TrainLoRACommand.self,
            LogitsCommand.self,
            PPOStepBenchmark.self,
        ]
    )
}
