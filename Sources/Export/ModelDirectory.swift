import Foundation
import Llama

/// A model directory read for export: config, weights, tokenizer, and an optional LoRA adapter in `adapter/`.
///
/// Layout (Hugging Face Llama): `config.json`, `model.safetensors` (or sharded with
/// `model.safetensors.index.json`), `tokenizer.json` (+ `tokenizer_config.json`,
/// `special_tokens_map.json`), optional `generation_config.json`, optional `adapter/` (PEFT files, to
/// apply on top of these weights) or `merged_adapter/` (PEFT files already folded into these weights,
/// kept so the adapter itself can still be exported, e.g. by a `ppo` stage with `lora:` and `merge: true`).
public struct ModelDirectory: Sendable {
    /// Where it was read from.
    public var url: URL
    /// The weights (Float32).
    public var checkpoint: LlamaCheckpoint
    /// dtype name → tensor count as stored on disk (`["BF16": 20]`).
    public var storedDTypes: [String: Int]
    /// The tokenizer files.
    public var tokenizer: TokenizerFiles
    /// `generation_config.json`, when present.
    public var generationConfigJSON: Data?
    /// The LoRA adapter of `adapter/`, when present.
    public var adapter: PEFTAdapter?
    /// The LoRA adapter of `merged_adapter/` (already folded into `checkpoint`), when present.
    public var mergedAdapter: PEFTAdapter? = nil

    /// Name of the adapter subdirectory.
    public static let adapterDirectoryName = "adapter"
    /// Name of the subdirectory holding an adapter already merged into the weights.
    public static let mergedAdapterDirectoryName = "merged_adapter"

    /// Reads and validates a model directory.
    /// - Parameter url: the directory.
    /// - Throws: `ExportError.notAModel` when the path is missing, a file, or lacks `config.json` or
    ///   weights; `.invalidModel` for a bad config or tensor; `.invalidTokenizer`; `.invalidAdapter`.
    public static func read(_ url: URL) throws -> ModelDirectory {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw ExportError.notAModel(path: url.path, detail: "no such file or directory")
        }
        guard isDirectory.boolValue else { throw ExportError.notAModel(path: url.path, detail: "it is a file, not a directory") }
        let configURL = url.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: configURL.path) else {
            throw ExportError.notAModel(path: url.path, detail: "config.json is missing")
        }
        _ = try LlamaCheckpoint.weightFiles(in: url)
        let config: LlamaConfig
        do { config = try LlamaConfig.load(contentsOf: configURL) } catch {
            throw ExportError.invalidModel(path: configURL.path, detail: "\(error)")
        }
        if let arch = architectures(configURL), !arch.contains("LlamaForCausalLM") {
            throw ExportError.invalidModel(path: configURL.path, detail: "architectures is \(arch); only LlamaForCausalLM is supported")
        }
        let (checkpoint, dtypes) = try LlamaCheckpoint.read(directory: url, config: config)
        let tokenizer = try TokenizerFiles.read(directory: url)
        guard tokenizer.tokens.count <= config.vocabSize else {
            throw ExportError.invalidTokenizer(path: url.appendingPathComponent("tokenizer.json").path,
                                               detail: "\(tokenizer.tokens.count) tokens but vocab_size is \(config.vocabSize)")
        }
        let adapterURL = url.appendingPathComponent(adapterDirectoryName)
        let adapter = FileManager.default.fileExists(atPath: adapterURL.appendingPathComponent("adapter_config.json").path)
            ? try PEFTAdapter.read(directory: adapterURL, base: config) : nil
        let mergedURL = url.appendingPathComponent(mergedAdapterDirectoryName)
        let merged = FileManager.default.fileExists(atPath: mergedURL.appendingPathComponent("adapter_config.json").path)
            ? try PEFTAdapter.read(directory: mergedURL, base: config) : nil
        if adapter != nil && merged != nil {
            throw ExportError.invalidAdapter(path: url.path, detail: "has both adapter/ (to apply) and merged_adapter/ (already applied); keep one")
        }
        return ModelDirectory(url: url, checkpoint: checkpoint, storedDTypes: dtypes, tokenizer: tokenizer,
                              generationConfigJSON: FileManager.default.contents(atPath: url.appendingPathComponent("generation_config.json").path),
                              adapter: adapter, mergedAdapter: merged)
    }

    private static func architectures(_ url: URL) -> [String]? {
        guard let data = FileManager.default.contents(atPath: url.path),
              let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return nil }
        return object["architectures"] as? [String]
    }
}
