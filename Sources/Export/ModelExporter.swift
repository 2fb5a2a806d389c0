import Foundation
import Llama
import Logging
import SafeTensors

/// Output formats of `rlhf export`.
public enum ExportFormat: String, Sendable, CaseIterable {
    /// A Hugging Face Llama directory (transformers `from_pretrained`).
    case hf
    /// A PEFT LoRA adapter directory (peft `PeftModel.from_pretrained`).
    case peft
    /// One GGUF v3 file (llama.cpp).
    case gguf
}

/// Floating-point storage of exported weights.
public enum ExportDType: String, Sendable, CaseIterable {
    case f32, f16, bf16

    var safeTensors: SafeTensorsDType {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        }
    }

    /// The `torch_dtype` / `dtype` string of config.json.
    var torchName: String {
        switch self {
        case .f32: return "float32"
        case .f16: return "float16"
        case .bf16: return "bfloat16"
        }
    }
}

/// Block quantisations of GGUF exports.
public enum GGUFQuantization: String, Sendable, CaseIterable {
    case q8_0 = "q8_0"
    case q4_0 = "q4_0"
}

/// What to export and how.
public struct ExportOptions: Sendable {
    /// Output format.
    public var format: ExportFormat
    /// Weight storage (nil: F32; not allowed together with `quantization`).
    public var dtype: ExportDType?
    /// GGUF only: Q8_0 or Q4_0 blocks for 2-D weights.
    public var quantization: GGUFQuantization?
    /// Fold the model's LoRA adapter into the weights (`W + scaling·B·A`) before an `hf`/`gguf` export.
    public var merge: Bool
    /// Replace an existing output.
    public var force: Bool
    /// GGUF: store tensors whose rows are not a multiple of 32 as F16 instead of failing (llama.cpp's behaviour).
    public var allowF16Fallback: Bool
    /// Lineage for the model card (the pipeline's export stage fills it).
    public var lineage: ModelLineage?
    /// Display name (model card title, `general.name`); default: the model directory's name.
    public var name: String?
    /// PEFT: `base_model_name_or_path` to record (default: the adapter's own value, else the model directory).
    public var baseModelNameOrPath: String?

    /// Creates options (see the properties); defaults: F32, no quantisation, no merge, no overwrite.
    public init(format: ExportFormat, dtype: ExportDType? = nil, quantization: GGUFQuantization? = nil, merge: Bool = false,
                force: Bool = false, allowF16Fallback: Bool = false, lineage: ModelLineage? = nil, name: String? = nil,
                baseModelNameOrPath: String? = nil) {
        self.format = format
        self.dtype = dtype
        self.quantization = quantization
        self.merge = merge
        self.force = force
        self.allowF16Fallback = allowF16Fallback
        self.lineage = lineage
        self.name = name
        self.baseModelNameOrPath = baseModelNameOrPath
    }

    /// Checks that the options fit together.
    /// - Throws: `ExportError.invalidOptions` for `--quant` outside GGUF, `--quant` with `--dtype`, or `--merge` with `peft`.
    public func validate() throws {
        if quantization != nil && format != .gguf { throw ExportError.invalidOptions(detail: "--quant applies to --format gguf only") }
        if quantization != nil && dtype != nil { throw ExportError.invalidOptions(detail: "--dtype and --quant are exclusive (norms stay F32 in quantised files)") }
        if merge && format == .peft { throw ExportError.invalidOptions(detail: "--merge produces full weights; use it with --format hf or gguf, not peft") }
    }
}

/// What an export wrote.
public struct ExportResult: Sendable {
    /// The output path (a directory for hf/peft, a file for gguf).
    public var output: URL
    /// Files written, relative name → bytes.
    public var files: [String: Int]
    /// Storage type → tensor count (`["Q8_0": 14, "F32": 5]`).
    public var tensorTypes: [String: Int]
    /// Parameters of the exported model (of the adapter, for peft).
    public var parameterCount: Int
}

/// Progress of an export: (step, completed, total), e.g. `("tensor blk.0.attn_q.weight", 3, 21)`.
public typealias ExportProgress = @Sendable (_ step: String, _ completed: Int, _ total: Int) -> Void

/// Exports model directories to Hugging Face, PEFT and GGUF form, and imports transformers checkpoints.
///
/// Every output is written under a temporary name beside `--out` and renamed into place.
public struct ModelExporter {
    private let logger: Logger
    private let resolver: ModelReferenceResolver

    /// - Parameters:
    ///   - logger: receives one info line per output and warnings (e.g. F16 fallbacks).
    ///   - resolver: maps digests and `PIPELINE:STAGE` to directories (default: directories only).
    public init(logger: Logger, resolver: ModelReferenceResolver = DirectoryModelResolver()) {
        self.logger = logger
        self.resolver = resolver
    }

    /// Exports `model` to `output`.
    ///
    /// - Parameters:
    ///   - model: the model to export.
    ///   - output: the directory (hf, peft) or file (gguf) to create.
    ///   - options: format, dtype, quantisation, merge, force.
    ///   - progress: called per tensor for GGUF and per file otherwise.
    /// - Returns: what was written.
    /// - Throws: `ExportError`: `.unresolvedReference`, `.notAModel`, `.invalidModel`, `.invalidTokenizer`,
    ///   `.invalidAdapter`, `.adapterRequiresMerge` (full export of a LoRA model without `merge`),
    ///   `.invalidOptions`, `.rowLengthNotQuantizable`, `.outputExists`, `.writeFailed`. Nothing is left
    ///   at `output` on error.
    public func export(_ model: ModelReference, to output: URL, options: ExportOptions, progress: ExportProgress? = nil) throws -> ExportResult {
        try options.validate()
        let directory = try resolver.resolve(model)
        let source = try ModelDirectory.read(directory)
        let name = options.name ?? directory.standardizedFileURL.lastPathComponent
        let atomic = try AtomicOutput(destination: output, force: options.force)
        var checkpoint = source.checkpoint
        if options.format != .peft {
            if let adapter = source.adapter {
                guard options.merge else { throw ExportError.adapterRequiresMerge(path: directory.path) }
                checkpoint = try adapter.merged(into: checkpoint)
                logger.info("merged LoRA adapter", metadata: ["projections": "\(adapter.pairs.count)", "scaling": "\(adapter.config.scaling)"])
            } else if options.merge, source.mergedAdapter != nil {
                logger.info("the weights already hold the merged LoRA adapter (merged_adapter/); nothing to merge", metadata: ["model": "\(directory.path)"])
            } else if options.merge {
                throw ExportError.invalidOptions(detail: "--merge given but \(directory.path) has no adapter/ directory")
            }
        }
        var result = ExportResult(output: output, files: [:], tensorTypes: [:], parameterCount: checkpoint.parameterCount)
        switch options.format {
        case .hf:
            let dtype = options.dtype ?? .f32
            try atomic.commit { tmp in
                try writeHFDirectory(checkpoint: checkpoint, tokenizer: source.tokenizer, generationConfig: source.generationConfigJSON,
                                     dtype: dtype, to: tmp, progress: progress,
                                     card: ModelCard.markdown(name: name, config: checkpoint.config, parameterCount: checkpoint.parameterCount,
                                                              format: "hf", dtype: dtype.rawValue.uppercased(), lineage: options.lineage))
            }
            result.tensorTypes = [dtype.rawValue.uppercased(): checkpoint.layout.tensors.count]
        case .peft:
            // adapter/ applies to these weights; merged_adapter/ applies to the base the adapter was trained on
            // (its own base_model_name_or_path), not to these already-merged weights.
            guard var adapter = source.adapter ?? source.mergedAdapter else {
                throw ExportError.invalidOptions(detail: "--format peft needs a LoRA-trained model (\(directory.path)/adapter/adapter_config.json is missing)")
            }
            adapter.config.baseModelNameOrPath = options.baseModelNameOrPath ?? adapter.config.baseModelNameOrPath ?? options.lineage?.baseModel ?? directory.path
            adapter.config.inferenceMode = true
            let dtype = options.dtype ?? .f32
            let count = adapter.pairs.values.reduce(0) { $0 + $1.a.count + $1.b.count }
            let finalAdapter = adapter
            try atomic.commit { tmp in
                try createDirectory(tmp)
                try finalAdapter.write(to: tmp, dtype: dtype.safeTensors, base: checkpoint.config)
                try writeText(ModelCard.markdown(name: name, config: checkpoint.config, parameterCount: count, format: "peft",
                                                 dtype: dtype.rawValue.uppercased(), lineage: options.lineage, adapter: finalAdapter.config),
                              to: tmp.appendingPathComponent("README.md"))
                progress?("adapter", 1, 1)
            }
            result.parameterCount = count
            result.tensorTypes = [dtype.rawValue.uppercased(): 2 * adapter.pairs.count]
        case .gguf:
            let weights: GGUFWeightType
            switch (options.quantization, options.dtype ?? .f32) {
            case (.q8_0?, _): weights = .q8_0
            case (.q4_0?, _): weights = .q4_0
            case (nil, .f32): weights = .f32
            case (nil, .f16): weights = .f16
            case (nil, .bf16): weights = .bf16
            }
            let writer = try GGUFLlamaExport.makeWriter(checkpoint: checkpoint, tokenizer: source.tokenizer, weights: weights,
                                                        name: name, allowF16Fallback: options.allowF16Fallback)
            for info in writer.tensorInfos {
                result.tensorTypes[info.type.description, default: 0] += 1
                if weights.isQuantized && info.dimensions.count == 2 && info.type == .f16 {
                    logger.warning("tensor stored as F16: row length is not a multiple of 32", metadata: ["tensor": "\(info.name)", "row_length": "\(info.dimensions[0])"])
                }
            }
            try atomic.commit { tmp in
                try writer.write(to: tmp) { done, total, tensor in progress?("tensor \(tensor)", done, total) }
            }
        }
        result.files = listFiles(output)
        logger.info("exported model", metadata: ["format": "\(options.format.rawValue)", "output": "\(output.path)",
                                                 "bytes": "\(result.files.values.reduce(0, +))"])
        return result
    }

    // MARK: - Import

    /// Validates a Llama directory saved by transformers and copies it as a pipeline starting model:
    /// F32 `model.safetensors` (F16/BF16 converted exactly), canonical `config.json`, tokenizer files,
    /// `generation_config.json`.
    ///
    /// - Parameters:
    ///   - directory: the transformers `save_pretrained` directory.
    ///   - output: the directory to create.
    ///   - force: replace an existing output.
    /// - Returns: what was written (`tensorTypes` holds the dtypes found in the source).
    /// - Throws: as `export` (`.notAModel`, `.invalidModel`, `.invalidTokenizer`, `.outputExists`, `.writeFailed`).
    public func importHF(from directory: URL, to output: URL, force: Bool = false, progress: ExportProgress? = nil) throws -> ExportResult {
        let source = try ModelDirectory.read(directory)
        if source.adapter != nil {
            logger.warning("import-hf ignores the adapter/ directory; merge it first with `rlhf export --format hf --merge`", metadata: ["model": "\(directory.path)"])
        }
        let atomic = try AtomicOutput(destination: output, force: force)
        try atomic.commit { tmp in
            try writeHFDirectory(checkpoint: source.checkpoint, tokenizer: source.tokenizer, generationConfig: source.generationConfigJSON,
                                 dtype: .f32, to: tmp, progress: progress, card: nil)
        }
        let files = listFiles(output)
        logger.info("imported model", metadata: ["source": "\(directory.path)", "output": "\(output.path)", "dtypes": "\(source.storedDTypes)"])
        return ExportResult(output: output, files: files, tensorTypes: source.storedDTypes, parameterCount: source.checkpoint.parameterCount)
    }

    // MARK: - Hugging Face directory

    /// Writes config.json, model.safetensors, tokenizer files, generation_config.json and (optionally) README.md into a new directory.
    func writeHFDirectory(checkpoint: LlamaCheckpoint, tokenizer: TokenizerFiles, generationConfig: Data?, dtype: ExportDType,
                          to dir: URL, progress: ExportProgress?, card: String?) throws {
        try createDirectory(dir)
        let c = checkpoint.config
        let total = card == nil ? 6 : 7
        var step = 0
        func done(_ file: String) { step += 1; progress?(file, step, total) }

        var configText: String
        do { configText = String(decoding: try c.jsonData(), as: UTF8.self) } catch {
            throw ExportError.writeFailed(path: dir.path, detail: "config.json: \(error)")
        }
        configText = configText.replacingOccurrences(of: "\"torch_dtype\" : \"float32\"", with: "\"torch_dtype\" : \"\(dtype.torchName)\"")
            .replacingOccurrences(of: "\"dtype\" : \"float32\"", with: "\"dtype\" : \"\(dtype.torchName)\"")
        try writeText(configText + "\n", to: dir.appendingPathComponent("config.json")); done("config.json")

        try checkpoint.writeSafeTensors(to: dir.appendingPathComponent("model.safetensors"), dtype: dtype.safeTensors); done("model.safetensors")

        try writeData(tokenizer.tokenizerJSON, to: dir.appendingPathComponent("tokenizer.json")); done("tokenizer.json")
        let bos = tokenizer.token(c.bosTokenId), eos = tokenizer.token(c.eosTokenId), pad = tokenizer.token(c.padTokenId)
        var specials: [String: Any] = [:]
        if let bos { specials["bos_token"] = bos }
        if let eos { specials["eos_token"] = eos }
        if let pad { specials["pad_token"] = pad }
        var tokenizerConfig = specials
        tokenizerConfig["tokenizer_class"] = "PreTrainedTokenizerFast"
        tokenizerConfig["model_max_length"] = c.maxPositionEmbeddings
        tokenizerConfig["clean_up_tokenization_spaces"] = false
        tokenizerConfig["add_bos_token"] = tokenizer.addsBOS
        try writeData(tokenizer.tokenizerConfigJSON ?? jsonData(tokenizerConfig), to: dir.appendingPathComponent("tokenizer_config.json")); done("tokenizer_config.json")
        try writeData(tokenizer.specialTokensMapJSON ?? jsonData(specials), to: dir.appendingPathComponent("special_tokens_map.json")); done("special_tokens_map.json")

        try writeData(try Self.generationConfigJSON(source: generationConfig, config: c),
                      to: dir.appendingPathComponent("generation_config.json")); done("generation_config.json")
        if let card { try writeText(card, to: dir.appendingPathComponent("README.md")); done("README.md") }
    }
}

// MARK: - generation_config.json

extension ModelExporter {
    /// The `generation_config.json` of an export: the source's, minus a `max_length` that only repeats
    /// `max_position_embeddings` in a config derived from the model config (`_from_model_config`; rlhf
    /// wrote one before, and transformers warns about it when `generate` gets `max_new_tokens`); without
    /// a source file, what transformers 5.x `save_pretrained` writes for a Llama (`_from_model_config`,
    /// BOS/EOS/PAD ids, `output_attentions`/`output_hidden_states` false, `use_cache` true).
    /// - Parameters:
    ///   - source: the source directory's `generation_config.json` bytes, if any.
    ///   - config: the exported model's config (token ids, context length).
    /// - Returns: pretty-printed JSON with sorted keys.
    /// - Throws: `ExportError.writeFailed` when encoding fails.
    static func generationConfigJSON(source: Data?, config c: LlamaConfig) throws -> Data {
        if let source, var fields = (try? JSONSerialization.jsonObject(with: source)) as? [String: Any] {
            if (fields["_from_model_config"] as? Bool) == true, (fields["max_length"] as? Int) == c.maxPositionEmbeddings {
                fields["max_length"] = nil
            }
            return try jsonData(fields)
        }
        var generation: [String: Any] = ["_from_model_config": true, "output_attentions": false, "output_hidden_states": false,
                                         "use_cache": true]
        if let id = c.bosTokenId { generation["bos_token_id"] = id }
        if let id = c.eosTokenId { generation["eos_token_id"] = id }
        if let id = c.padTokenId { generation["pad_token_id"] = id }
        return try jsonData(generation)
    }
}

// MARK: - File helpers

func createDirectory(_ url: URL) throws {
    do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false) } catch {
        throw ExportError.writeFailed(path: url.path, detail: error.localizedDescription)
    }
}

func writeData(_ data: Data, to url: URL) throws {
    do { try data.write(to: url) } catch { throw ExportError.writeFailed(path: url.path, detail: error.localizedDescription) }
}

func writeText(_ text: String, to url: URL) throws { try writeData(Data(text.utf8), to: url) }

func jsonData(_ object: [String: Any]) throws -> Data {
    do {
        var data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        data.append(0x0A)
        return data
    } catch {
        throw ExportError.writeFailed(path: "<json>", detail: error.localizedDescription)
    }
}

/// Files under `url` (or `url` itself when it is a file), relative name → bytes.
func listFiles(_ url: URL) -> [String: Int] {
    let fm = FileManager.default
    var isDirectory: ObjCBool = false
    guard fm.fileExists(atPath: url.path, isDirectory: &isDirectory) else { return [:] }
    if !isDirectory.boolValue {
        return [url.lastPathComponent: (try? fm.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0]
    }
    var out: [String: Int] = [:]
    for name in (try? fm.contentsOfDirectory(atPath: url.path)) ?? [] {
        out[name] = (try? fm.attributesOfItem(atPath: url.appendingPathComponent(name).path)[.size] as? Int) ?? 0
    }
    return out
}
