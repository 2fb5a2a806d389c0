import Alignment
import ArgumentParser
import Foundation
import Preferences
import Tokenization

/// `rlhf reward eval|score`: use a trained reward model directory.
struct RewardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reward",
        abstract: "Evaluate a reward model on a comparison file, or score one response.",
        subcommands: [RewardEval.self, RewardScore.self]
    )
}

/// Loads a reward model and its tokenizer and scores prompt/response texts (sequences longer than the
/// model's context keep their end).
struct RewardScorer {
    let model: RewardModel
    let tok: RLHFTokenization

    init(directory: String) throws {
        let url = URL(fileURLWithPath: directory)
        model = try RewardModel.load(directory: url)
        tok = RLHFTokenization(tokenizer: try BPETokenizer(directory: url))
    }

    func sequence(prompt: String, response: String) -> [Int32] {
        let s = tok.prompt(prompt) + tok.response(response)
        return Array(s.suffix(model.backbone.config.maxPositionEmbeddings))
    }
}

/// `rlhf reward eval --model DIR --file FILE --format trl|hh-rlhf [--json]`.
struct RewardEval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Accuracy of a reward model on a comparison file (ties are left out).",
        discussion: "Prints {\"accuracy\", \"n\", \"mean_margin\", \"length_baseline_accuracy\"} with --json. "
            + "Scores are normalised rewards; the length baseline picks the shorter reply (ties count 1/2)."
    )

    @Option(name: .customLong("model"), help: ArgumentHelp("Reward model directory (reward-model stage artifact).", valueName: "DIR"))
    var model: String

    @Option(name: .customLong("file"), help: ArgumentHelp("Comparison file (JSONL).", valueName: "FILE"))
    var file: String

    @Option(name: .customLong("format"), help: "File format: trl or hh-rlhf.")
    var format: String = "trl"

    @Option(name: .customLong("limit"), help: "Evaluate only the first N comparisons.")
    var limit: Int?

    @Option(name: .customLong("batch-size"), help: "Sequences per forward.")
    var batchSize: Int = 8

    @Flag(name: .customLong("skip-long-prompts"),
          help: "Leave out comparisons whose prompt alone fills the model's context (as the stage's long_prompts: skip); default: keep their end.")
    var skipLongPrompts = false

    @Flag(name: .customLong("json"), help: "Print one JSON object.")
    var json = false

    func validate() throws {
        guard ImportFormat(rawValue: format) != nil else { throw ValidationError("--format must be trl or hh-rlhf, got '\(format)'.") }
        if let limit, limit < 1 { throw ValidationError("--limit must be >= 1.") }
    }

    func run() throws {
        let scorer = try RewardScorer(directory: model)
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: file)) } catch {
            throw ValidationError("cannot read --file \(file): \(error.localizedDescription)")
        }
        var records = parseImport(data, format: ImportFormat(rawValue: format)!).records.filter { $0.choice != .tie }
        if skipLongPrompts {
            let ctx = scorer.model.backbone.config.maxPositionEmbeddings
            records = records.filter { scorer.tok.prompt($0.prompt).count < ctx }
        }
        if let limit { records = Array(records.prefix(limit)) }
        guard !records.isEmpty else { throw ValidationError("\(file) holds no labelled (non-tie) comparison in format \(format).") }
        var chosen: [[Int32]] = [], rejected: [[Int32]] = []
        var baseline = 0.0
        for r in records {
            let (c, j) = r.choice == .a ? (r.responseA, r.responseB) : (r.responseB, r.responseA)
            chosen.append(scorer.sequence(prompt: r.prompt, response: c))
            rejected.append(scorer.sequence(prompt: r.prompt, response: j))
            let lc = scorer.tok.response(c).count, lr = scorer.tok.response(j).count
            baseline += lc < lr ? 1 : (lc == lr ? 0.5 : 0)
        }
        let sc = scorer.model.scores(chosen, batchSize: batchSize), sr = scorer.model.scores(rejected, batchSize: batchSize)
        let m = try rewardModelMetrics(chosen: sc, rejected: sr)
        let base = baseline / Double(records.count)
        if json {
            let obj: [String: Any] = ["accuracy": m.accuracy, "n": m.count, "mean_margin": m.margin, "length_baseline_accuracy": base]
            print(String(decoding: try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]), as: UTF8.self))
        } else {
            print(String(format: "accuracy %.4f on %d comparisons (length baseline %.4f), mean margin %.4f", m.accuracy, m.count, base, m.margin))
        }
    }
}

/// `rlhf reward score --model DIR --prompt P --response R`: prints one normalised reward.
struct RewardScore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Print the normalised reward of one response to one prompt."
    )

    @Option(name: .customLong("model"), help: ArgumentHelp("Reward model directory.", valueName: "DIR"))
    var model: String

    @Option(name: .customLong("prompt"), help: "The prompt text (e.g. \"\\n\\nHuman: ...\\n\\nAssistant:\").")
    var prompt: String

    @Option(name: .customLong("response"), help: "The response text.")
    var response: String

    func run() throws {
        let scorer = try RewardScorer(directory: model)
        print(scorer.model.scores([scorer.sequence(prompt: prompt, response: response)])[0])
    }
}
