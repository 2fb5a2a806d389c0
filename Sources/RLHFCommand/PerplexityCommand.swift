import ArgumentParser
import Foundation
import Llama
import Tokenization

/// `rlhf perplexity`: mean next-token NLL of a text file under a model, with sliding windows.
struct PerplexityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perplexity",
        abstract: "Mean next-token negative log-likelihood (nats/token) and perplexity of a text file.",
        discussion: """
        The file is tokenized as the model's tokenizer.json says (its post-processor decides BOS). Every \
        token after the first is predicted exactly once. Windows hold --window tokens (default \
        max_position_embeddings) and start every --stride tokens (default: the window, i.e. disjoint \
        windows); with a smaller stride each window re-reads the previous context and scores only its new \
        tokens (the sliding-window method of Hugging Face's perplexity guide). With --json prints \
        {"nll", "perplexity", "tokens" (predicted tokens), "window", "stride"}.
        """)

    @OptionGroup var modelOptions: ModelDirectoryOptions

    @Option(name: .long, help: "Text file (UTF-8).")
    var file: String

    @Option(name: .long, help: "Tokens per window (default max_position_embeddings).")
    var window: Int?

    @Option(name: .long, help: "Tokens between window starts (default: the window size).")
    var stride: Int?

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() throws {
        let (model, tokenizer) = try modelOptions.load()
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ValidationError("--file \(file): cannot read the file")
        }
        let ids = tokenizer.encodeWithPostProcessor(String(decoding: data, as: UTF8.self))
        guard ids.count >= 2 else {
            throw ValidationError("--file \(file): \(ids.count) token(s); perplexity needs at least 2 tokens")
        }
        let maxPos = model.config.maxPositionEmbeddings
        let win = window ?? maxPos
        guard win >= 2, win <= maxPos else {
            throw ValidationError("--window \(win) must be in 2...\(maxPos) (max_position_embeddings)")
        }
        let step = stride ?? win
        guard step >= 1, step <= win else { throw ValidationError("--stride \(step) must be in 1...\(win) (the window)") }
        var total = 0.0, counted = 0, prevEnd = 0, begin = 0
        while prevEnd < ids.count {
            let end = min(begin + win, ids.count)
            let targetStart = max(prevEnd, begin + 1)  // first token of this window that is predicted
            if end > targetStart {
                let tokens = Array(ids[begin..<end])
                var labels = tokens
                for i in 0..<(targetStart - begin) { labels[i] = -100 }
                let mean = model.loss(input: LlamaInput(tokens: tokens, batch: 1, seqLen: tokens.count), labels: labels)
                total += Double(mean) * Double(end - targetStart)
                counted += end - targetStart
            }
            prevEnd = end
            begin += step
        }
        let nll = total / Double(counted)
        if json {
            try printJSON(["nll": nll, "perplexity": exp(nll), "tokens": counted, "window": win, "stride": step])
        } else {
            print(String(format: "nll %.4f nats/token  perplexity %.3f  over %d predicted tokens (window %d, stride %d)",
                         nll, exp(nll), counted, win, step))
        }
    }
}
