// Attaching, switching, merging, saving and loading LoRA adapters on a LlamaModel, in PEFT's layout:
// `<model dir>/adapter/adapter_config.json` + `adapter_model.safetensors` with tensors named
// `base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight` `[r, in]` / `lora_B.weight` `[out, r]`.

import Foundation
import SafeTensors
import Tensors

// MARK: - Attaching and switching

extension LlamaModel {
    /// The subdirectory of a model directory that holds a PEFT adapter.
    public static let adapterSubdirectory = "adapter"

    /// Every LoRA adapter with its PEFT module name (e.g. `base_model.model.model.layers.0.self_attn.q_proj`),
    /// in layer order, then module order (q, k, v, o, gate, up, down).
    public var loraAdapters: [(module: String, adapter: LoRAAdapter)] {
        var out: [(String, LoRAAdapter)] = []
        for (i, layer) in layers.enumerated() {
            for (name, lin) in layer.linears {
                if let a = lin.adapter as? LoRAAdapter { out.append((Self.peftModuleName(layer: i, module: name), a)) }
            }
        }
        return out
    }

    /// The config the adapters were created with (nil when the model has none).
    public var loraConfig: LoRAConfig? { loraAdapters.first?.adapter.config }

    /// The adapters' trainable parameters (`lora_A`, `lora_B` of each adapter, in `loraAdapters` order):
    /// what the optimiser gets when training with LoRA.
    public var loraParameters: [Parameter] { loraAdapters.flatMap { $0.adapter.parameters } }

    /// Adds a LoRA adapter to every target module of every layer and freezes all base parameters
    /// (side effect: `requiresGrad = false` on every base parameter; replaces existing adapters).
    /// - Parameters:
    ///   - config: rank, alpha, dropout, targets.
    ///   - seed: seed of A's initialisation and the dropout generators.
    /// - Throws: `LlamaError.invalidInput` when `config.validate()` fails.
    /// - Source: PEFT `LoraModel` / `LoraLayer.update_layer` (kaiming-uniform A, zero B).
    public func applyLoRA(_ config: LoRAConfig, seed: UInt64) throws {
        try config.validate()
        var rng = Xoshiro256(seed: seed)
        for p in parameters { p.requiresGrad = false }
        for (i, layer) in layers.enumerated() {
            for (name, lin) in layer.linears where config.targetModules.contains(name) {
                lin.adapter = LoRAAdapter(prefix: Self.peftModuleName(layer: i, module: name), inFeatures: lin.inFeatures,
                                          outFeatures: lin.outFeatures, config: config, rng: &rng)
            }
        }
    }

    /// Enables or disables every adapter (disabled = the base model, PPO's reference policy; no weights copied).
    public func setLoRAEnabled(_ enabled: Bool) {
        for (_, a) in loraAdapters { a.isEnabled = enabled }
    }

    /// Switches adapter dropout on (training) or off (inference, the default).
    public func setLoRATraining(_ training: Bool) {
        for (_, a) in loraAdapters { a.isTraining = training }
    }

    /// Runs `body` with every adapter disabled, then restores each adapter's previous state.
    public func withLoRADisabled<R>(_ body: () throws -> R) rethrows -> R {
        let adapters = loraAdapters.map(\.adapter)
        let states = adapters.map(\.isEnabled)
        for a in adapters { a.isEnabled = false }
        defer { for (a, s) in zip(adapters, states) { a.isEnabled = s } }
        return try body()
    }

    /// Folds every adapter into its base weight, `W += scaling · B A`, then removes the adapters
    /// (side effect: base weights change; base parameters become trainable again, `requiresGrad = true`).
    /// A disabled adapter is merged too (merging is about the weights, not the switch).
    /// - Source: PEFT `LoraLayer.merge` / `merge_and_unload`.
    public func mergeLoRA() {
        for layer in layers {
            for (_, lin) in layer.linears {
                guard let a = lin.adapter as? LoRAAdapter else { continue }
                let d = a.delta()
                accumulate(lin.weight.value.data, d.data, count: d.count)
                lin.adapter = nil
            }
        }
        for p in parameters { p.requiresGrad = true }
    }

    /// PEFT's module prefix for layer `i`'s `module` (`q_proj`...).
    static func peftModuleName(layer i: Int, module: String) -> String {
        let group = ["gate_proj", "up_proj", "down_proj"].contains(module) ? "mlp" : "self_attn"
        return "base_model.model.model.layers.\(i).\(group).\(module)"
    }
}

// MARK: - PEFT files

/// The fields of PEFT's `adapter_config.json` that this project reads and writes.
struct PEFTAdapterConfig: Codable {
    var peftType: String? = "LORA"
    var taskType: String? = "CAUSAL_LM"
    var r: Int
    var loraAlpha: Float
    var loraDropout: Float?
    var targetModules: [String]
    var useRslora: Bool?
    var bias: String? = "none"
    var fanInFanOut: Bool? = false
    var useDora: Bool? = false
    var inferenceMode: Bool? = true
    var initLoraWeights: Bool? = true
    var baseModelNameOrPath: String?

    enum CodingKeys: String, CodingKey {
        case peftType = "peft_type", taskType = "task_type", r, loraAlpha = "lora_alpha", loraDropout = "lora_dropout"
        case targetModules = "target_modules", useRslora = "use_rslora", bias, fanInFanOut = "fan_in_fan_out"
        case useDora = "use_dora", inferenceMode = "inference_mode", initLoraWeights = "init_lora_weights"
        case baseModelNameOrPath = "base_model_name_or_path"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(peftType, forKey: .peftType)
        try c.encode(taskType, forKey: .taskType)
        try c.encode(r, forKey: .r)
        // Through the shortest decimal of the Float, so 0.1 is written as 0.1, not 0.10000000149011612.
        func decimal(_ x: Float) -> Double { Double(x.description) ?? Double(x) }
        try c.encode(decimal(loraAlpha), forKey: .loraAlpha)
        try c.encode(decimal(loraDropout ?? 0), forKey: .loraDropout)
        try c.encode(targetModules, forKey: .targetModules)
        try c.encode(useRslora ?? false, forKey: .useRslora)
        try c.encode(bias, forKey: .bias)
        try c.encode(fanInFanOut, forKey: .fanInFanOut)
        try c.encode(useDora, forKey: .useDora)
        try c.encode(inferenceMode, forKey: .inferenceMode)
        try c.encode(initLoraWeights, forKey: .initLoraWeights)
        try c.encode(baseModelNameOrPath, forKey: .baseModelNameOrPath)
    }
}

extension LlamaModel {
    /// Writes the adapters in PEFT's layout into `modelDirectory/adapter/` (`adapter_config.json` and
    /// `adapter_model.safetensors`, F32), each file to a temporary name then renamed.
    /// - Parameters:
    ///   - modelDirectory: the model directory (created if needed).
    ///   - baseModelNameOrPath: written as `base_model_name_or_path` (nil: null).
    /// - Throws: `LlamaError.invalidInput` when the model has no adapters; `LlamaError.io` or
    ///   `SafeTensorsError.writeFailed` when the directory is not writable.
    public func saveLoRA(modelDirectory: URL, baseModelNameOrPath: String? = nil) throws {
        guard let cfg = loraConfig, !loraAdapters.isEmpty else {
            throw LlamaError.invalidInput("saveLoRA: the model has no LoRA adapters (call applyLoRA or loadLoRA first)")
        }
        let dir = modelDirectory.appendingPathComponent(Self.adapterSubdirectory)
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw LlamaError.io(path: dir.path, detail: "cannot create the adapter directory (\(error.localizedDescription))")
        }
        var writer = SafeTensorsWriter(metadata: ["format": "pt"])
        for p in loraParameters {
            try writer.add(p.name, shape: p.shape, floats: UnsafeBufferPointer(start: p.value.data, count: p.count))
        }
        try writer.write(to: dir.appendingPathComponent("adapter_model.safetensors"))
        let peft = PEFTAdapterConfig(r: cfg.r, loraAlpha: cfg.loraAlpha, loraDropout: cfg.loraDropout,
                                     targetModules: cfg.targetModules, useRslora: cfg.useRslora,
                                     baseModelNameOrPath: baseModelNameOrPath)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let url = dir.appendingPathComponent("adapter_config.json")
        do { try encoder.encode(peft).write(to: url, options: .atomic) } catch {
            throw LlamaError.io(path: url.path, detail: "cannot write (\(error.localizedDescription))")
        }
    }

    /// Reads a PEFT adapter from `modelDirectory/adapter/` (or from `modelDirectory` itself when it holds
    /// `adapter_config.json` directly), attaches it and freezes the base (as `applyLoRA`).
    /// - Returns: the adapter's config.
    /// - Throws: `LlamaError.io` (missing or unreadable `adapter_config.json`), `LlamaError.invalidInput`
    ///   (not a LoRA adapter, DoRA, bias other than "none", fan_in_fan_out, regex `target_modules`, unknown
    ///   module, a tensor that names no module of this model), `SafeTensorsError.missingTensor` /
    ///   `.shapeMismatch` naming the tensor (an adapter for another model). Nothing is attached on error.
    @discardableResult
    public func loadLoRA(modelDirectory: URL) throws -> LoRAConfig {
        var dir = modelDirectory.appendingPathComponent(Self.adapterSubdirectory)
        if !FileManager.default.fileExists(atPath: dir.appendingPathComponent("adapter_config.json").path),
           FileManager.default.fileExists(atPath: modelDirectory.appendingPathComponent("adapter_config.json").path) {
            dir = modelDirectory
        }
        let cfgURL = dir.appendingPathComponent("adapter_config.json")
        let data: Data
        do { data = try Data(contentsOf: cfgURL) } catch {
            throw LlamaError.io(path: cfgURL.path, detail: "cannot read the PEFT adapter config (\(error.localizedDescription))")
        }
        let peft: PEFTAdapterConfig
        do { peft = try JSONDecoder().decode(PEFTAdapterConfig.self, from: data) } catch {
            throw LlamaError.invalidInput("\(cfgURL.path): not a LoRA adapter_config.json with a list of target_modules (\(error))")
        }
        if let t = peft.peftType, t != "LORA" { throw LlamaError.invalidInput("\(cfgURL.path): peft_type '\(t)' is not LORA") }
        if peft.useDora == true { throw LlamaError.invalidInput("\(cfgURL.path): use_dora is not supported") }
        if let b = peft.bias, b != "none" { throw LlamaError.invalidInput("\(cfgURL.path): bias '\(b)' is not supported (only \"none\")") }
        if peft.fanInFanOut == true { throw LlamaError.invalidInput("\(cfgURL.path): fan_in_fan_out is not supported") }
        let config = LoRAConfig(r: peft.r, loraAlpha: peft.loraAlpha, loraDropout: peft.loraDropout ?? 0,
                                targetModules: peft.targetModules, useRslora: peft.useRslora ?? false)
        try config.validate()
        let weightsURL = dir.appendingPathComponent("adapter_model.safetensors")
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile.read(contentsOf: weightsURL) } catch let e as SafeTensorsError { throw e } catch {
            throw LlamaError.io(path: weightsURL.path, detail: "cannot open the adapter weights (\(error.localizedDescription))")
        }
        // Build the adapters aside, check every tensor, then attach.
        var rng = Xoshiro256(seed: 0)
        var pending: [(Linear, LoRAAdapter)] = []
        for (i, layer) in layers.enumerated() {
            for (name, lin) in layer.linears where config.targetModules.contains(name) {
                let a = LoRAAdapter(prefix: Self.peftModuleName(layer: i, module: name), inFeatures: lin.inFeatures,
                                    outFeatures: lin.outFeatures, config: config, rng: &rng)
                for p in a.parameters { p.value.copy(from: try file.floats(p.name, shape: p.shape)) }
                pending.append((lin, a))
            }
        }
        let known = Set(pending.flatMap { $0.1.parameters.map(\.name) })
        if let extra = file.names.first(where: { !known.contains($0) }) {
            throw LlamaError.invalidInput("\(weightsURL.path): tensor '\(extra)' is not a LoRA weight of this model's target modules")
        }
        for p in parameters { p.requiresGrad = false }
        for (lin, a) in pending { lin.adapter = a }
        return config
    }
}
