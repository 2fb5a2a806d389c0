// Reading and writing a Hugging Face model directory (config.json + model.safetensors).

import Foundation
import SafeTensors
import Tensors

// MARK: - Checkpoint I/O

extension LlamaModel {
    /// Loads `config.json` and `model.safetensors` from a Hugging Face model directory (F32, F16 or BF16
    /// weights, converted to Float32).
    /// - Parameters:
    ///   - directory: the model directory.
    ///   - strict: when true, a tensor the model does not have is an error (rotary `inv_freq` buffers of
    ///     old checkpoints and a redundant `lm_head.weight` of a tied model are always ignored, as
    ///     transformers does).
    /// - Returns: the model, gradients zero.
    /// - Throws: `LlamaConfigError` (config missing, unreadable or invalid, naming the key);
    ///   `SafeTensorsError.truncated` / `.malformedHeader` (file damaged), `.missingTensor(name:)`,
    ///   `.shapeMismatch(name:expected:found:)`, `.unsupportedDType(name:dtype:)` (e.g. an I64 tensor);
    ///   `LlamaError.unexpectedTensor(name:)` in strict mode; `LlamaError.io` when the file cannot be opened.
    public static func load(directory: URL, strict: Bool = true) throws -> LlamaModel {
        let config = try LlamaConfig.load(contentsOf: directory.appendingPathComponent("config.json"))
        let model = try LlamaModel(config: config, seed: 0)
        try model.loadWeights(from: directory.appendingPathComponent("model.safetensors"), strict: strict)
        return model
    }

    /// Overwrites every parameter from a safetensors file (side effect: replaces the weights in place, so
    /// an optimiser holding these parameters keeps working). Checks every name, shape and dtype before
    /// changing anything, so a failed load leaves the model as it was.
    /// - Throws: as `load(directory:strict:)`.
    public func loadWeights(from url: URL, strict: Bool = true) throws {
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile.read(contentsOf: url) } catch let e as SafeTensorsError { throw e } catch {
            throw LlamaError.io(path: url.path, detail: "cannot open the weights file (\(error.localizedDescription))")
        }
        let params = parameters
        var values: [[Float]] = []
        for p in params {
            values.append(try file.floats(p.name, shape: p.shape))
        }
        if strict {
            let known = Set(params.map(\.name))
            for name in file.names where !known.contains(name) {
                if name.hasSuffix("rotary_emb.inv_freq") || (config.tieWordEmbeddings && name == "lm_head.weight") { continue }
                throw LlamaError.unexpectedTensor(name: name, path: url.path)
            }
        }
        for (p, v) in zip(params, values) { p.value.copy(from: v) }
    }

    /// Writes `config.json` and `model.safetensors` (F32, `__metadata__ {"format": "pt"}`, no `lm_head`
    /// when tied) into `directory`, creating it if needed; each file is written to a temporary name and
    /// renamed, so an existing checkpoint is never left half-written.
    /// - Parameter dtype: element type of the weights file (`.f32` default; `.f16`/`.bf16` round).
    /// - Throws: `SafeTensorsError.writeFailed` or Foundation's error when the directory is not writable.
    public func save(directory: URL, dtype: SafeTensorsDType = .f32) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var writer = SafeTensorsWriter(metadata: ["format": "pt"])
        for p in parameters {
            try writer.add(p.name, shape: p.shape, floats: UnsafeBufferPointer(start: p.value.data, count: p.count), dtype: dtype)
        }
        try writer.write(to: directory.appendingPathComponent("model.safetensors"))
        try config.write(to: directory.appendingPathComponent("config.json"))
    }
}
