// Writing a complete Hugging Face model directory: weights, config, tokenizer files, generation config.
import Foundation
import Llama

/// A Hugging Face causal-LM directory as `AutoModelForCausalLM.from_pretrained` and
/// `AutoTokenizer.from_pretrained` read it: `config.json`, `model.safetensors`, `generation_config.json`
/// and the tokenizer's files (`tokenizer.json`, `tokenizer_config.json`, `special_tokens_map.json`, ...).
public enum ModelDirectory {
    /// Files of a model directory that are not tokenizer files (never copied from a tokenizer directory).
    static let modelFiles: Set<String> = ["config.json", "model.safetensors", "generation_config.json"]

    /// Writes `model` (F32 safetensors + `config.json`), `generation_config.json` and every regular file
    /// of `tokenizerDirectory` (except model files) into `directory`, creating it if needed; each file is
    /// written under a temporary name and renamed.
    /// - Parameters:
    ///   - model: the model.
    ///   - tokenizerDirectory: a saved tokenizer (its files are copied as they are), or nil.
    ///   - directory: the destination.
    /// - Throws: `TrainingError.io` when a file cannot be read or written; `SafeTensorsError.writeFailed`.
    public static func write(model: LlamaModel, tokenizerDirectory: URL?, to directory: URL) throws {
        do {
            try model.save(directory: directory)
        } catch let e as TrainingError { throw e } catch {
            throw TrainingError.io(operation: "save model", path: directory.path, reason: "\(error)")
        }
        try writeFileAtomically(try generationConfig(model.config), to: directory.appendingPathComponent("generation_config.json"))
        guard let tokenizerDirectory else { return }
        let fm = FileManager.default
        let names: [String]
        do { names = try fm.contentsOfDirectory(atPath: tokenizerDirectory.path) } catch {
            throw TrainingError.io(operation: "list tokenizer files", path: tokenizerDirectory.path, reason: error.localizedDescription)
        }
        for name in names.sorted() where !modelFiles.contains(name) && !name.hasPrefix(".") {
            let src = tokenizerDirectory.appendingPathComponent(name)
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: src.path, isDirectory: &isDir), !isDir.boolValue else { continue }
            let data: Data
            do { data = try Data(contentsOf: src) } catch {
                throw TrainingError.io(operation: "read tokenizer file", path: src.path, reason: error.localizedDescription)
            }
            try writeFileAtomically(data, to: directory.appendingPathComponent(name))
        }
    }

    /// The `generation_config.json` bytes transformers (5.x) writes for a Llama config with
    /// `save_pretrained`: `_from_model_config`, `bos_token_id`, `eos_token_id`, `pad_token_id`,
    /// `output_attentions`/`output_hidden_states` false and `use_cache` true (greedy: `do_sample`
    /// defaults to false). No `max_length`: transformers warns when it is set and the caller passes
    /// `max_new_tokens`.
    /// - Throws: `TrainingError.io` when encoding fails.
    /// - Source: transformers `GenerationConfig.from_model_config` / `PreTrainedModel.save_pretrained`.
    public static func generationConfig(_ config: LlamaConfig) throws -> Data {
        var fields: [String: Any] = ["_from_model_config": true, "output_attentions": false, "output_hidden_states": false,
                                     "use_cache": true]
        if let b = config.bosTokenId { fields["bos_token_id"] = b }
        if let e = config.eosTokenId { fields["eos_token_id"] = e }
        if let p = config.padTokenId { fields["pad_token_id"] = p }
        do { return try JSONSerialization.data(withJSONObject: fields, options: [.prettyPrinted, .sortedKeys]) } catch {
            throw TrainingError.io(operation: "encode generation_config.json", path: "-", reason: "\(error)")
        }
    }
}
