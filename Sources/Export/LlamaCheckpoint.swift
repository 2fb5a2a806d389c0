import Foundation
import Llama
import SafeTensors

/// A Llama model's weights in memory as Float32, keyed by Hugging Face tensor name.
///
/// Shapes follow `LlamaTensorLayout`; every tensor of the layout is present.
public struct LlamaCheckpoint: Sendable {
    /// The hyper-parameters (from `config.json`).
    public var config: LlamaConfig
    /// Tensor data, row-major, keyed by Hugging Face name.
    public var tensors: [String: [Float]]
    /// The layout that names and shapes the tensors.
    public var layout: LlamaTensorLayout { LlamaTensorLayout(config: config) }

    /// Creates a checkpoint and checks that every tensor of the layout is present with its element count.
    /// - Throws: `ExportError.invalidModel` naming a missing tensor or a wrong element count.
    public init(config: LlamaConfig, tensors: [String: [Float]]) throws {
        self.config = config
        self.tensors = tensors
        for t in LlamaTensorLayout(config: config).tensors {
            guard let data = tensors[t.name] else {
                throw ExportError.invalidModel(path: "<memory>", detail: "tensor '\(t.name)' is missing")
            }
            guard data.count == t.shape.reduce(1, *) else {
                throw ExportError.invalidModel(path: "<memory>", detail: "tensor '\(t.name)' has \(data.count) elements, shape \(t.shape) needs \(t.shape.reduce(1, *))")
            }
        }
    }

    /// Number of parameters (tied head counted once).
    public var parameterCount: Int { layout.tensors.reduce(0) { $0 + $1.shape.reduce(1, *) } }

    // MARK: - Reading safetensors

    /// Reads the weights of `config` from `model.safetensors` or a sharded `model.safetensors.index.json`.
    ///
    /// F16/BF16/F64 are converted to Float32 exactly (F64 rounded). A tied checkpoint that also stores
    /// `lm_head.weight` is accepted (the copy is ignored); `*.rotary_emb.inv_freq` buffers are ignored.
    /// - Parameters:
    ///   - directory: the model directory.
    ///   - config: its configuration.
    /// - Returns: the checkpoint and the dtypes found (`["F32": 20, "BF16": 2]`).
    /// - Throws: `ExportError.notAModel` without weights files; `.invalidModel` for a missing,
    ///   unexpected, misshapen or non-float tensor, or an unreadable file.
    public static func read(directory: URL, config: LlamaConfig) throws -> (LlamaCheckpoint, [String: Int]) {
        let files = try weightFiles(in: directory)
        let layout = LlamaTensorLayout(config: config)
        var tensors: [String: [Float]] = [:]
        var dtypes: [String: Int] = [:]
        var unexpected: [String] = []
        for (url, names) in files {
            let file: SafeTensorsFile
            do { file = try SafeTensorsFile.read(contentsOf: url) } catch {
                throw ExportError.invalidModel(path: url.path, detail: "\(error)")
            }
            for entry in file.entries where names == nil || names!.contains(entry.name) {
                if entry.name.hasSuffix(".rotary_emb.inv_freq") { continue }
                if entry.name == "lm_head.weight" && config.tieWordEmbeddings { continue }
                guard let t = layout.tensor(named: entry.name) else { unexpected.append(entry.name); continue }
                guard entry.shape == t.shape else {
                    throw ExportError.invalidModel(path: url.path, detail: "tensor '\(entry.name)' has shape \(entry.shape), config.json implies \(t.shape)")
                }
                guard entry.dtype.isFloatingPoint else {
                    throw ExportError.invalidModel(path: url.path, detail: "tensor '\(entry.name)' has dtype \(entry.dtype.rawValue); expected F32, F16 or BF16")
                }
                do { tensors[entry.name] = try file.floats(entry.name) } catch {
                    throw ExportError.invalidModel(path: url.path, detail: "\(error)")
                }
                dtypes[entry.dtype.rawValue, default: 0] += 1
            }
        }
        if !unexpected.isEmpty {
            throw ExportError.invalidModel(path: directory.path, detail: "unexpected tensors \(unexpected.sorted().prefix(5).joined(separator: ", "))\(unexpected.count > 5 ? " (+\(unexpected.count - 5) more)" : ""); not a plain LlamaForCausalLM checkpoint")
        }
        for t in layout.tensors where tensors[t.name] == nil {
            throw ExportError.invalidModel(path: directory.path, detail: "tensor '\(t.name)' (shape \(t.shape)) is missing from the weights")
        }
        return (try LlamaCheckpoint(config: config, tensors: tensors), dtypes)
    }

    /// The safetensors files of a directory, each with the names it must supply (nil = all).
    static func weightFiles(in directory: URL) throws -> [(URL, Set<String>?)] {
        let single = directory.appendingPathComponent("model.safetensors")
        if FileManager.default.fileExists(atPath: single.path) { return [(single, nil)] }
        let index = directory.appendingPathComponent("model.safetensors.index.json")
        guard FileManager.default.fileExists(atPath: index.path) else {
            throw ExportError.notAModel(path: directory.path, detail: "neither model.safetensors nor model.safetensors.index.json is present")
        }
        guard let data = try? Data(contentsOf: index),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let map = object["weight_map"] as? [String: String]
        else {
            throw ExportError.invalidModel(path: index.path, detail: "not a safetensors index (needs a \"weight_map\" object)")
        }
        var byFile: [String: Set<String>] = [:]
        for (name, file) in map { byFile[file, default: []].insert(name) }
        return byFile.keys.sorted().map { (directory.appendingPathComponent($0), byFile[$0]) }
    }

    // MARK: - Writing safetensors

    /// Writes `model.safetensors` in Hugging Face order with `__metadata__ {"format": "pt"}`.
    /// - Parameters:
    ///   - url: the file to write (written atomically).
    ///   - dtype: `.f32`, `.f16` or `.bf16` (round to nearest even).
    /// - Throws: `ExportError.writeFailed`.
    public func writeSafeTensors(to url: URL, dtype: SafeTensorsDType) throws {
        var writer = SafeTensorsWriter()
        do {
            for t in layout.tensors {
                guard let data = tensors[t.name] else { throw ExportError.invalidModel(path: url.path, detail: "tensor '\(t.name)' is missing") }
                try writer.add(t.name, shape: t.shape, floats: data, dtype: dtype)
            }
            try writer.write(to: url)
        } catch let error as ExportError {
            throw error
        } catch {
            throw ExportError.writeFailed(path: url.path, detail: "\(error)")
        }
    }
}
