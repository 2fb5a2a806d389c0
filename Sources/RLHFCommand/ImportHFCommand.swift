import ArgumentParser
import Export
import Foundation
import Logging

/// `rlhf import-hf DIR --out DIR`: validates a transformers-saved Llama directory and copies it as a starting model.
struct ImportHFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-hf",
        abstract: "Validate a Llama model saved by transformers and copy it (F32) as a pipeline's starting model.",
        discussion: """
        Checks config.json keys, every tensor's name, shape and dtype, and tokenizer.json; converts F16/BF16 \
        weights to F32; writes config.json, model.safetensors, tokenizer files and generation_config.json.
        Example: rlhf import-hf ~/models/tiny-llama --out models/base
        """)

    @Argument(help: "A directory written by transformers' save_pretrained (model and tokenizer).")
    var directory: String

    @Option(help: "The directory to create.")
    var out: String

    @Flag(help: "Replace an existing output.")
    var force = false

    func run() throws {
        let logger = Logger(label: "rlhf.import-hf")
        let result: ExportResult
        do {
            result = try ModelExporter(logger: logger).importHF(from: URL(fileURLWithPath: directory), to: URL(fileURLWithPath: out), force: force)
        } catch let error as ExportError {
            throw CLIFailure(message: "\(error)")
        }
        let types = result.tensorTypes.keys.sorted().map { "\($0)×\(result.tensorTypes[$0] ?? 0)" }.joined(separator: " ")
        print("imported \(directory) → \(result.output.path) (\(result.parameterCount) parameters; source tensors \(types), stored F32)")
    }
}
