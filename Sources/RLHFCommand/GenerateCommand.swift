import ArgumentParser
import Foundation
import Llama
import Tokenization

/// `rlhf generate`: continue a prompt with a model (KV cache; greedy or sampled).
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Continue a prompt with a Llama model (KV cache; temperature 0 = greedy).",
        discussion: """
        The prompt is tokenized as the model's tokenizer.json says (its post-processor decides whether BOS \
        is added). Generation stops at the tokenizer's (or config's) end-of-sequence token or after \
        --max-new-tokens. With --json prints {"text": ..., "token_ids": [...]} of the new tokens.
        """)

    @OptionGroup var modelOptions: ModelDirectoryOptions

    @Option(name: .long, help: "Prompt text.")
    var prompt: String

    @Option(name: .long, help: "Most new tokens to generate.")
    var maxNewTokens: Int = 128

    @Option(name: .long, help: "Sampling temperature; 0 means greedy.")
    var temperature: Float = 0

    @Option(name: .long, help: "Nucleus sampling mass in (0, 1]; 1 disables.")
    var topP: Float = 1

    @Option(name: .long, help: "Keep the k most likely tokens; 0 disables.")
    var topK: Int = 0

    @Option(name: .long, help: "Seed of the sampler.")
    var seed: UInt64 = 0

    @Flag(name: .long, help: "Print JSON: {\"text\", \"token_ids\"}.")
    var json = false

    func validate() throws {
        guard maxNewTokens >= 1 else { throw ValidationError("--max-new-tokens must be at least 1") }
        guard temperature >= 0, temperature.isFinite else { throw ValidationError("--temperature must be >= 0 (0 = greedy)") }
        guard topP > 0, topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
        guard topK >= 0 else { throw ValidationError("--top-k must be >= 0 (0 disables)") }
    }

    func run() throws {
        let (model, tokenizer) = try modelOptions.load()
        let ids = tokenizer.encodeWithPostProcessor(prompt)
        guard !ids.isEmpty else {
            throw ValidationError("the prompt encodes to no tokens and the tokenizer adds no BOS; give a non-empty --prompt")
        }
        let eos = tokenizer.eosTokenId ?? model.config.eosTokenId.map(Int32.init)
        let pad = tokenizer.padTokenId ?? model.config.padTokenId.map(Int32.init)
        let config = GenerationConfig(maxNewTokens: maxNewTokens, temperature: temperature, topK: topK, topP: topP, seed: seed,
                                      eosTokenId: eos, padTokenId: pad)
        let out = try generate(model: model, prompts: [ids], config: config)
        let text = tokenizer.decode(out.tokens[0], skipSpecial: true)
        if json {
            try printJSON(["text": text, "token_ids": out.tokens[0].map(Int.init)])
        } else {
            print(text)
        }
    }
}
