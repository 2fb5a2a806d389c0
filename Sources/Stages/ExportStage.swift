import Export
import Foundation
import Llama
import Logging
import Pipeline

// MARK: - The `export` stage kind

/// Exports the model of its one `needs` stage in several formats at once, with a model card whose
/// lineage comes from the pipeline store (`StageContext.lineage`).
///
/// Artifact layout: `hf/` (transformers directory, with the card as `README.md`), `peft/` (PEFT adapter),
/// `gguf/model-<type>.gguf` (`model-q8_0.gguf`, `model-f32.gguf`...), plus `README.md` (the card) and
/// `lineage.json` (`ModelLineage`) at the root. Deterministic, so cacheable.
///
/// Metrics (step 0): `export/parameters` (weights exported; of the adapter for `peft` alone),
/// `export/gguf_bytes`, `export/hf_bytes`, `export/peft_bytes` (file sizes in bytes, per format written).
public struct ExportStage: StageKind {
    public static let name = "export"
    public static let version = "1"
    public static let summary = "Export the model of its `needs` stage as hf/, peft/ and gguf/ with a lineage model card."
    public static let cacheable = true
    public static let headlineMetrics = ["export/parameters", "export/gguf_bytes"]
    public static let parameters: ParameterSchema = [
        ParameterSpec("formats", .list(.string), default: .list([.string("hf")]),
                      doc: "Formats to write: any of hf, peft (a LoRA-trained model), gguf."),
        ParameterSpec("dtype", .string, default: .string("f32"),
                      doc: "Weight storage of hf/peft and of unquantised gguf: f32, f16 or bf16."),
        ParameterSpec("quant", .string, default: .string("none"),
                      doc: "GGUF block quantisation of 2-D weights: none, q8_0 or q4_0 (norms stay F32)."),
        ParameterSpec("merge", .bool, default: .bool(false),
                      doc: "Fold a LoRA adapter into the weights (W + scaling·B·A) for hf and gguf."),
        ParameterSpec("allow_f16_fallback", .bool, default: .bool(false),
                      doc: "GGUF: store tensors whose rows are not a multiple of 32 as F16 instead of failing."),
        ParameterSpec("name", .string, default: .string(""),
                      doc: "Model name in the card and GGUF general.name (default: the pipeline's name)."),
    ]

    public init() {}

    /// The validated parameters of one export.
    struct Settings {
        var formats: [ExportFormat]
        var dtype: ExportDType
        var quant: GGUFQuantization?
        var merge: Bool
        var allowF16Fallback: Bool
        var name: String

        /// Reads and checks the parameters.
        /// - Throws: `PipelineError.parameter` naming the bad parameter and the accepted values.
        init(_ context: StageContext) throws {
            let stage = context.stageName
            let names = try context.params.strings("formats")
            guard !names.isEmpty else {
                throw PipelineError.parameter(stage: stage, name: "formats", message: "is empty; list at least one of hf, peft, gguf")
            }
            var formats: [ExportFormat] = []
            for n in names {
                guard let f = ExportFormat(rawValue: n) else {
                    throw PipelineError.parameter(stage: stage, name: "formats", message: "unknown format '\(n)'; use hf, peft or gguf")
                }
                if !formats.contains(f) { formats.append(f) }
            }
            self.formats = formats
            let d = try context.params.string("dtype")
            guard let dtype = ExportDType(rawValue: d) else {
                throw PipelineError.parameter(stage: stage, name: "dtype", message: "unknown dtype '\(d)'; use f32, f16 or bf16")
            }
            self.dtype = dtype
            let q = try context.params.string("quant")
            if q == "none" {
                quant = nil
            } else if let g = GGUFQuantization(rawValue: q) {
                quant = g
                if !formats.contains(.gguf) {
                    throw PipelineError.parameter(stage: stage, name: "quant", message: "applies to gguf only; add gguf to `formats` or set quant: none")
                }
                if dtype != .f32 {
                    throw PipelineError.parameter(stage: stage, name: "quant", message: "quantised GGUF keeps norms in F32; leave dtype at f32 (it applies to hf/peft)")
                }
            } else {
                throw PipelineError.parameter(stage: stage, name: "quant", message: "unknown quantisation '\(q)'; use none, q8_0 or q4_0")
            }
            merge = try context.params.bool("merge")
            allowF16Fallback = try context.params.bool("allow_f16_fallback")
            let n = try context.params.string("name")
            name = n.isEmpty ? (context.lineage.pipeline.isEmpty ? context.stageName : context.lineage.pipeline) : n
        }

        /// The GGUF file name: `model-q8_0.gguf`, `model-f16.gguf`...
        var ggufFileName: String { "model-\(quant?.rawValue ?? dtype.rawValue).gguf" }
    }

    public func run(_ context: StageContext) async throws {
        let settings = try Settings(context)
        guard context.inputs.count == 1, let (modelStage, model) = context.inputs.first.map({ ($0.key, $0.value) }) else {
            throw PipelineError.parameter(stage: context.stageName, name: "needs",
                                          message: "export needs exactly one model stage (found \(context.inputs.count)); e.g. `needs: [ppo]`")
        }
        let lineage = Self.modelLineage(context.lineage)
        let exporter = ModelExporter(logger: context.logger)
        let out = context.outputDirectory
        var parameters = 0
        for (i, format) in settings.formats.enumerated() {
            try context.checkCancellation()
            let destination: URL
            switch format {
            case .hf: destination = out.appendingPathComponent("hf")
            case .peft: destination = out.appendingPathComponent("peft")
            case .gguf:
                let dir = out.appendingPathComponent("gguf")
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                destination = dir.appendingPathComponent(settings.ggufFileName)
            }
            let options = ExportOptions(format: format, dtype: format == .gguf && settings.quant != nil ? nil : settings.dtype,
                                        quantization: format == .gguf ? settings.quant : nil,
                                        merge: format == .peft ? false : settings.merge, allowF16Fallback: settings.allowF16Fallback,
                                        lineage: lineage, name: settings.name)
            let total = settings.formats.count
            let result: ExportResult
            do {
                result = try exporter.export(.directory(model), to: destination, options: options) { step, done, count in
                    context.progress((Double(i) + Double(done) / Double(max(count, 1))) / Double(total), "\(format.rawValue): \(step)")
                }
            } catch let error as ExportError {
                throw PipelineError.stageFailed(stage: context.stageName,
                                                message: "export of '\(modelStage)' as \(format.rawValue) failed: \(error)", log: context.logFile.path)
            }
            let bytes = result.files.values.reduce(0, +)
            context.metrics.log(step: 0, name: "export/\(format.rawValue)_bytes", value: Double(bytes))
            if format != .peft || parameters == 0 { parameters = max(parameters, result.parameterCount) }
        }
        context.metrics.log(step: 0, name: "export/parameters", value: Double(parameters))
        try Self.writeRootCard(lineage: lineage, settings: settings, to: out)
    }

    // MARK: - Lineage

    /// The model card's lineage from the orchestrator's records: every upstream stage with its
    /// parameters and artifact, data digests (`stage/input`), and headline metrics (`stage/metric`).
    public static func modelLineage(_ l: StageLineage) -> ModelLineage {
        var data: [String: String] = [:]
        var metrics: [String: Double] = [:]
        let stages = l.stages.map { s -> ModelLineage.Stage in
            for input in s.inputs { data["\(s.name)/\(input.name)"] = input.digest }
            for name in s.headline { if let v = s.metrics[name] { metrics["\(s.name)/\(name)"] = v } }
            var params = s.params.mapValues { v -> String in
                if case .string(let text) = v { return text }
                return v.canonicalJSON
            }
            params["seed"] = String(s.seed)
            // A run stopped early (pretrain's max_seconds) trained fewer steps than its `steps` parameter says;
            // `global_step` comes from the run that produced the artifact, also when it is served from the cache.
            var note: String?
            if let done = s.metrics["global_step"], case .int(let planned)? = s.params["steps"], Int(done) < planned {
                note = "stopped at step \(Int(done)) of \(planned) (max_seconds); the model has \(Int(done)) optimizer steps"
            }
            return ModelLineage.Stage(name: s.name, kind: "\(s.kind)@\(s.version)", artifactDigest: s.artifact, parameters: params, note: note)
        }
        return ModelLineage(pipeline: l.pipeline.isEmpty ? nil : l.pipeline, stages: stages, dataDigests: data, metrics: metrics)
    }

    /// Writes `lineage.json` and the root `README.md` (the `hf/` card when written, else a short card).
    static func writeRootCard(lineage: ModelLineage, settings: Settings, to out: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        try encoder.encode(lineage).write(to: out.appendingPathComponent("lineage.json"), options: .atomic)
        let fm = FileManager.default
        let card: String
        if let hf = try? String(contentsOf: out.appendingPathComponent("hf/README.md"), encoding: .utf8) {
            card = hf
        } else if let peft = try? String(contentsOf: out.appendingPathComponent("peft/README.md"), encoding: .utf8) {
            card = peft
        } else {
            var s = "# \(settings.name)\n\nExported by the rlhf `export` stage: "
            s += settings.formats.map { f in f == .gguf ? "`gguf/\(settings.ggufFileName)`" : "`\(f.rawValue)/`" }.joined(separator: ", ")
            s += ".\n\nLineage: see `lineage.json` (stages, parameters, artifact and data digests, headline metrics).\n"
            card = s
        }
        guard fm.createFile(atPath: out.appendingPathComponent("README.md").path, contents: Data(card.utf8)) else {
            throw ExportError.writeFailed(path: out.appendingPathComponent("README.md").path, detail: "cannot create the file")
        }
    }
}
