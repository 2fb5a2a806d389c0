import ArgumentParser
import Export
import Foundation
import Logging
import Stages

extension ExportFormat: ExpressibleByArgument {}
extension ExportDType: ExpressibleByArgument {}
extension GGUFQuantization: ExpressibleByArgument {}

/// `rlhf export MODEL --format hf|peft|gguf ... --out PATH`: writes a model in a form the ecosystem loads.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a model as a Hugging Face directory, a PEFT adapter or a GGUF file.",
        discussion: """
        MODEL is a model directory (config.json, model.safetensors, tokenizer.json; a LoRA-trained model \
        also has adapter/), an artifact digest (or unique prefix) in --workdir, or PIPELINE:STAGE (the \
        artifact of that stage's latest successful run, e.g. quickstart:ppo).
        Examples:
          rlhf export runs/tiny --format hf --dtype bf16 --out tiny-hf
          rlhf export runs/tiny-lora --format peft --out tiny-adapter
          rlhf export runs/tiny-lora --format gguf --merge --quant q8_0 --out tiny-q8_0.gguf
        """)

    @Argument(help: "The model: a model directory, an artifact digest or prefix, or PIPELINE:STAGE.")
    var model: String

    @Option(name: .long, help: ArgumentHelp("Work directory for digests and PIPELINE:STAGE (default $RLHF_WORKDIR or .rlhf).", valueName: "DIR"))
    var workdir: String?

    @Option(help: "Output format: hf, peft or gguf.")
    var format: ExportFormat

    @Option(help: "Weight storage: f32 (default), f16 or bf16.")
    var dtype: ExportDType?

    @Option(help: "GGUF block quantisation of 2-D weights: q8_0 or q4_0 (norms stay F32).")
    var quant: GGUFQuantization?

    @Flag(help: "Fold the LoRA adapter into the weights (W + scaling·B·A) before an hf or gguf export.")
    var merge = false

    @Option(help: "Output path: a directory for hf/peft, a file for gguf. Must not exist unless --force.")
    var out: String

    @Flag(help: "Replace an existing output.")
    var force = false

    @Flag(help: "GGUF: store tensors whose row length is not a multiple of 32 as F16 instead of failing.")
    var allowF16Fallback = false

    @Option(help: "JSON file with the model's lineage (ModelLineage) for the model card.")
    var lineage: String?

    @Option(help: "Model name for the card and general.name (default: the model directory's name).")
    var name: String?

    @Option(help: "PEFT: base_model_name_or_path to record in adapter_config.json.")
    var baseModel: String?

    func validate() throws {
        if quant != nil && format != .gguf { throw ValidationError("--quant applies to --format gguf only") }
        if quant != nil && dtype != nil { throw ValidationError("--dtype and --quant are exclusive") }
    }

    func run() throws {
        let logger = Logger(label: "rlhf.export")
        var lineageValue: ModelLineage?
        if let lineage {
            guard let data = FileManager.default.contents(atPath: lineage) else {
                throw ValidationError("--lineage \(lineage): cannot read the file")
            }
            do { lineageValue = try JSONDecoder().decode(ModelLineage.self, from: data) } catch {
                throw ValidationError("--lineage \(lineage): not a ModelLineage JSON (\(error))")
            }
        }
        let options = ExportOptions(format: format, dtype: dtype, quantization: quant, merge: merge, force: force,
                                    allowF16Fallback: allowF16Fallback, lineage: lineageValue, name: name, baseModelNameOrPath: baseModel)
        let result: ExportResult
        do {
            let resolver = ArtifactModelResolver(workdir: workdir.map { URL(fileURLWithPath: $0) } ?? ArtifactModelResolver.defaultWorkdir)
            result = try ModelExporter(logger: logger, resolver: resolver)
                .export(ArtifactModelResolver.parse(model), to: URL(fileURLWithPath: out), options: options)
        } catch let error as ExportError {
            throw CLIFailure(message: "\(error)")
        }
        let types = result.tensorTypes.keys.sorted().map { "\($0)×\(result.tensorTypes[$0] ?? 0)" }.joined(separator: " ")
        print("exported \(format.rawValue) → \(result.output.path) (\(result.parameterCount) parameters; tensors \(types))")
        for file in result.files.keys.sorted() { print("  \(file)  \(result.files[file] ?? 0) bytes") }
    }
}

/// A failure already phrased for the user: printed to stderr, exit code 1.
struct CLIFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
