import ArgumentParser
import Foundation
import Llama
import Tokenization

/// `--model DIR`: a Hugging Face Llama directory (config.json, model.safetensors, tokenizer.json), shared by
/// the commands that run a model.
struct ModelDirectoryOptions: ParsableArguments {
    @Option(name: .long, help: "Hugging Face Llama model directory (config.json, model.safetensors, tokenizer.json; an adapter/ subdirectory with a PEFT LoRA adapter is applied).")
    var model: String

    var url: URL { URL(fileURLWithPath: model) }

    /// Loads the tokenizer and the model (plus its PEFT adapter when `adapter/adapter_config.json` exists).
    /// - Throws: `ValidationError` naming the missing file, or the loader's typed error.
    func load() throws -> (LlamaModel, BPETokenizer) {
        let fm = FileManager.default
        for file in ["config.json", "model.safetensors", "tokenizer.json"] where !fm.fileExists(atPath: url.appendingPathComponent(file).path) {
            throw ValidationError("--model \(model): \(file) is missing (expected a Hugging Face Llama directory with a tokenizer.json)")
        }
        let tokenizer = try BPETokenizer(directory: url)
        let llama = try LlamaModel.load(directory: url)
        if fm.fileExists(atPath: url.appendingPathComponent(LlamaModel.adapterSubdirectory).appendingPathComponent("adapter_config.json").path) {
            try llama.loadLoRA(modelDirectory: url)
        }
        return (llama, tokenizer)
    }
}

/// Prints `object` as one line of JSON with sorted keys.
func printJSON(_ object: [String: Any]) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    print(String(decoding: data, as: UTF8.self))
}
