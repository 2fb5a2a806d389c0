import ArgumentParser
import Foundation
import Export
import Llama
import Stages
import Tokenization

/// `--model MODEL`: a Hugging Face Llama directory (config.json, model.safetensors, tokenizer.json), an
/// artifact digest (or unique prefix) or `PIPELINE:STAGE` of `--workdir`; shared by the commands that run a model.
struct ModelDirectoryOptions: ParsableArguments {
    @Option(name: .long, help: "Model: a Hugging Face Llama directory (config.json, model.safetensors, tokenizer.json; an adapter/ subdirectory with a PEFT LoRA adapter is applied), an artifact digest or prefix, or PIPELINE:STAGE.")
    var model: String

    @Option(name: .long, help: ArgumentHelp("Work directory for --model digests and PIPELINE:STAGE (default $RLHF_WORKDIR or .rlhf).", valueName: "DIR"))
    var workdir: String?

    /// The model directory `--model` names.
    /// - Throws: `ValidationError` when it names no directory, artifact or pipeline stage.
    func resolvedURL() throws -> URL {
        let workdir = self.workdir.map { URL(fileURLWithPath: $0) } ?? ArtifactModelResolver.defaultWorkdir
        do { return try ArtifactModelResolver(workdir: workdir).resolve(argument: model) } catch let e as ExportError {
            throw ValidationError("--model: \(e.description)")
        }
    }

    /// Loads the tokenizer and the model (plus its PEFT adapter when `adapter/adapter_config.json` exists).
    /// - Throws: `ValidationError` naming the missing file, or the loader's typed error.
    func load() throws -> (LlamaModel, BPETokenizer) {
        let url = try resolvedURL()
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
