import Foundation
import Llama
import SafeTensors

/// `adapter_config.json` of a PEFT LoRA adapter (the keys PEFT reads, snake_case in the file).
///
/// Only plain LoRA on linear projections is supported: `bias: "none"`, no DoRA, no
/// `fan_in_fan_out`, no per-module `rank_pattern`/`alpha_pattern`, no `modules_to_save`.
/// Source: huggingface/peft `src/peft/tuners/lora/config.py`.
public struct PEFTAdapterConfig: Codable, Equatable, Sendable {
    /// `peft_type`, always `"LORA"`.
    public var peftType: String = "LORA"
    /// `task_type`, `"CAUSAL_LM"`.
    public var taskType: String? = "CAUSAL_LM"
    /// `base_model_name_or_path`: where PEFT loads the base from (a hub name or a directory).
    public var baseModelNameOrPath: String?
    /// Rank r (`r`).
    public var r: Int
    /// `lora_alpha`; the update is scaled by `lora_alpha / r` (or `/ sqrt(r)` with rsLoRA).
    public var loraAlpha: Double
    /// `lora_dropout` (training only).
    public var loraDropout: Double = 0
    /// `target_modules`: module names such as `q_proj` (a list; a regex string is rejected).
    public var targetModules: [String]
    /// `bias`, must be `"none"`.
    public var bias: String = "none"
    /// `fan_in_fan_out`, must be false (Llama's Linear stores `[out, in]`).
    public var fanInFanOut: Bool = false
    /// `use_rslora`: scale by `lora_alpha / sqrt(r)` (Kalajdzievski 2023, rsLoRA).
    public var useRslora: Bool = false
    /// `use_dora`, must be false.
    public var useDora: Bool = false
    /// `modules_to_save`, must be empty.
    public var modulesToSave: [String]? = nil
    /// `inference_mode`.
    public var inferenceMode: Bool = true
    /// `init_lora_weights` (kept for PEFT; irrelevant once trained).
    public var initLoraWeights: Bool = true
    /// `rank_pattern`, must be empty.
    public var rankPattern: [String: Int]? = nil
    /// `alpha_pattern`, must be empty.
    public var alphaPattern: [String: Double]? = nil

    /// Creates a config for rank `r` on `targetModules`.
    public init(r: Int, loraAlpha: Double, targetModules: [String], useRslora: Bool = false, baseModelNameOrPath: String? = nil) {
        self.r = r
        self.loraAlpha = loraAlpha
        self.targetModules = targetModules
        self.useRslora = useRslora
        self.baseModelNameOrPath = baseModelNameOrPath
    }

    /// The factor of `B·A`: `lora_alpha / r`, or `lora_alpha / sqrt(r)` with `use_rslora`.
    /// Source: peft `tuners/lora/layer.py` (`update_layer`).
    public var scaling: Float { Float(useRslora ? loraAlpha / Double(r).squareRoot() : loraAlpha / Double(r)) }

    enum CodingKeys: String, CodingKey {
        case peftType = "peft_type", taskType = "task_type", baseModelNameOrPath = "base_model_name_or_path"
        case r, loraAlpha = "lora_alpha", loraDropout = "lora_dropout", targetModules = "target_modules", bias
        case fanInFanOut = "fan_in_fan_out", useRslora = "use_rslora", useDora = "use_dora"
        case modulesToSave = "modules_to_save", inferenceMode = "inference_mode", initLoraWeights = "init_lora_weights"
        case rankPattern = "rank_pattern", alphaPattern = "alpha_pattern"
    }

    /// Decodes PEFT's file; absent optional keys take PEFT's defaults; unknown keys are ignored.
    /// - Throws: `DecodingError` when `r`, `lora_alpha` or `target_modules` is missing, or
    ///   `target_modules` is a regex string.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        peftType = try c.decodeIfPresent(String.self, forKey: .peftType) ?? "LORA"
        taskType = try c.decodeIfPresent(String.self, forKey: .taskType)
        baseModelNameOrPath = try c.decodeIfPresent(String.self, forKey: .baseModelNameOrPath)
        r = try c.decode(Int.self, forKey: .r)
        loraAlpha = try c.decode(Double.self, forKey: .loraAlpha)
        loraDropout = try c.decodeIfPresent(Double.self, forKey: .loraDropout) ?? 0
        if let list = try? c.decode([String].self, forKey: .targetModules) {
            targetModules = list
        } else if let single = try? c.decode(String.self, forKey: .targetModules) {
            throw DecodingError.dataCorruptedError(forKey: .targetModules, in: c,
                debugDescription: "target_modules is the regex '\(single)'; write it as a list of module names")
        } else {
            throw DecodingError.keyNotFound(CodingKeys.targetModules, .init(codingPath: [], debugDescription: "target_modules"))
        }
        bias = try c.decodeIfPresent(String.self, forKey: .bias) ?? "none"
        fanInFanOut = try c.decodeIfPresent(Bool.self, forKey: .fanInFanOut) ?? false
        useRslora = try c.decodeIfPresent(Bool.self, forKey: .useRslora) ?? false
        useDora = try c.decodeIfPresent(Bool.self, forKey: .useDora) ?? false
        modulesToSave = try c.decodeIfPresent([String].self, forKey: .modulesToSave)
        inferenceMode = try c.decodeIfPresent(Bool.self, forKey: .inferenceMode) ?? true
        initLoraWeights = (try? c.decodeIfPresent(Bool.self, forKey: .initLoraWeights)) ?? true
        rankPattern = try? c.decodeIfPresent([String: Int].self, forKey: .rankPattern)
        alphaPattern = try? c.decodeIfPresent([String: Double].self, forKey: .alphaPattern)
    }

    /// Checks the restrictions listed on the type.
    /// - Throws: `ExportError.invalidAdapter` naming the key and what to change.
    public func validate(path: String) throws {
        func fail(_ d: String) -> ExportError { .invalidAdapter(path: path, detail: d) }
        guard peftType == "LORA" else { throw fail("peft_type is '\(peftType)'; only LORA adapters are supported") }
        guard r > 0 else { throw fail("r must be positive, got \(r)") }
        guard loraAlpha.isFinite else { throw fail("lora_alpha must be finite") }
        guard bias == "none" else { throw fail("bias '\(bias)' is not supported; train with bias='none'") }
        guard !useDora else { throw fail("use_dora is not supported") }
        guard !fanInFanOut else { throw fail("fan_in_fan_out must be false for Llama's [out, in] weights") }
        guard (modulesToSave ?? []).isEmpty else { throw fail("modules_to_save \(modulesToSave ?? []) is not supported") }
        guard (rankPattern ?? [:]).isEmpty, (alphaPattern ?? [:]).isEmpty else { throw fail("rank_pattern/alpha_pattern are not supported") }
        let known: Set<String> = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
        for m in targetModules where !known.contains(m) { throw fail("target module '\(m)' is not a Llama projection (\(known.sorted().joined(separator: ", ")))") }
    }
}

/// A LoRA adapter on a Llama model: for each targeted projection W `[out, in]`, A `[r, in]` and B `[out, r]`,
/// so that the adapted layer computes `W x + scaling · B A x`.
///
/// Stored as PEFT does: `adapter_config.json` and `adapter_model.safetensors` with keys
/// `base_model.model.<module>.lora_A.weight` / `.lora_B.weight`, e.g.
/// `base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`.
/// Source: Hu et al. 2021, LoRA (§4.1); huggingface/peft `utils/save_and_load.py`.
public struct PEFTAdapter: Sendable {
    /// One adapted projection.
    public struct Pair: Sendable {
        /// `[r, in]` row-major.
        public var a: [Float]
        /// `[out, r]` row-major.
        public var b: [Float]
    }

    /// The adapter's configuration.
    public var config: PEFTAdapterConfig
    /// Pairs keyed by the Hugging Face weight they adapt, e.g. `model.layers.0.self_attn.q_proj.weight`.
    public var pairs: [String: Pair]

    /// The PEFT key of the A or B matrix of the projection `weightName`.
    /// Example: `peftKey("model.layers.0.self_attn.q_proj.weight", "lora_A")` =
    /// `"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"`.
    public static func peftKey(_ weightName: String, _ matrix: String) -> String {
        "base_model.model." + weightName.dropLast(".weight".count) + ".\(matrix).weight"
    }

    /// Creates an adapter and validates it against the base model.
    /// - Throws: `ExportError.invalidAdapter` as `validate(against:path:)`.
    public init(config: PEFTAdapterConfig, pairs: [String: Pair], base: LlamaConfig) throws {
        self.config = config
        self.pairs = pairs
        try validate(against: base, path: "<memory>")
    }

    /// Reads `adapter_config.json` and `adapter_model.safetensors` from `directory`.
    /// - Parameters:
    ///   - directory: the adapter directory (PEFT's `save_pretrained` output).
    ///   - base: the config of the model it adapts.
    /// - Throws: `ExportError.invalidAdapter` for a missing or malformed file, an unknown key, a
    ///   missing A/B partner, a shape that does not fit the base weight or a rank other than `r`.
    public static func read(directory: URL, base: LlamaConfig) throws -> PEFTAdapter {
        let configURL = directory.appendingPathComponent("adapter_config.json")
        let weightsURL = directory.appendingPathComponent("adapter_model.safetensors")
        func fail(_ d: String) -> ExportError { .invalidAdapter(path: directory.path, detail: d) }
        guard let data = FileManager.default.contents(atPath: configURL.path) else { throw fail("adapter_config.json is missing") }
        let config: PEFTAdapterConfig
        do { config = try JSONDecoder().decode(PEFTAdapterConfig.self, from: data) } catch let DecodingError.keyNotFound(key, _) {
            throw fail("adapter_config.json lacks '\(key.stringValue)'")
        } catch let DecodingError.dataCorrupted(ctx) {
            throw fail("adapter_config.json: \(ctx.debugDescription)")
        } catch {
            throw fail("adapter_config.json cannot be decoded: \(error)")
        }
        guard FileManager.default.fileExists(atPath: weightsURL.path) else {
            throw fail("adapter_model.safetensors is missing (adapter_model.bin is not read; save with safe_serialization=True)")
        }
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile.read(contentsOf: weightsURL) } catch { throw fail("\(error)") }
        let layout = LlamaTensorLayout(config: base)
        var pairs: [String: Pair] = [:]
        var seen: Set<String> = []
        for t in layout.tensors where t.isProjection {
            let ka = peftKey(t.name, "lora_A"), kb = peftKey(t.name, "lora_B")
            let hasA = file.contains(ka), hasB = file.contains(kb)
            if !hasA && !hasB { continue }
            guard hasA && hasB else { throw fail("'\(hasA ? ka : kb)' has no \(hasA ? "lora_B" : "lora_A") partner") }
            do {
                pairs[t.name] = Pair(a: try file.floats(ka), b: try file.floats(kb))
            } catch { throw fail("\(error)") }
            guard let ea = file.entry(ka), let eb = file.entry(kb) else { continue }
            guard ea.shape == [config.r, t.shape[1]] else { throw fail("'\(ka)' has shape \(ea.shape), expected [r, in] = \([config.r, t.shape[1]])") }
            guard eb.shape == [t.shape[0], config.r] else { throw fail("'\(kb)' has shape \(eb.shape), expected [out, r] = \([t.shape[0], config.r])") }
            seen.insert(ka); seen.insert(kb)
        }
        let unknown = file.names.filter { !seen.contains($0) }
        guard unknown.isEmpty else {
            throw fail("unexpected tensors \(unknown.prefix(3).joined(separator: ", ")); expected only base_model.model.<module>.lora_A/lora_B.weight of Llama projections")
        }
        let adapter = PEFTAdapter(unchecked: config, pairs: pairs)
        try adapter.validate(against: base, path: directory.path)
        return adapter
    }

    private init(unchecked config: PEFTAdapterConfig, pairs: [String: Pair]) {
        self.config = config
        self.pairs = pairs
    }

    /// Checks the config and every pair against the base model.
    /// - Throws: `ExportError.invalidAdapter` for a config restriction, an empty adapter, a pair on a
    ///   module outside `target_modules` or a matrix of the wrong size.
    public func validate(against base: LlamaConfig, path: String) throws {
        func fail(_ d: String) -> ExportError { .invalidAdapter(path: path, detail: d) }
        try config.validate(path: path)
        guard !pairs.isEmpty else { throw fail("the adapter holds no lora_A/lora_B tensors") }
        let layout = LlamaTensorLayout(config: base)
        for (name, pair) in pairs {
            guard let t = layout.tensor(named: name), t.isProjection else { throw fail("'\(name)' is not a projection of the base model") }
            let module = name.split(separator: ".").dropLast().last.map(String.init) ?? name
            guard config.targetModules.contains(module) else { throw fail("'\(name)' is adapted but '\(module)' is not in target_modules \(config.targetModules)") }
            guard pair.a.count == config.r * t.shape[1] else { throw fail("lora_A of '\(name)' has \(pair.a.count) elements, expected r·in = \(config.r * t.shape[1])") }
            guard pair.b.count == t.shape[0] * config.r else { throw fail("lora_B of '\(name)' has \(pair.b.count) elements, expected out·r = \(t.shape[0] * config.r)") }
        }
    }

    // MARK: - Merge

    /// Folds the adapter into the base weights: `W ← W + scaling · B A` for every adapted projection.
    ///
    /// - Parameter checkpoint: the base weights (`[out, in]` each).
    /// - Returns: the merged checkpoint (same config).
    /// - Throws: `ExportError.invalidAdapter` when a pair's projection is missing from the checkpoint.
    /// Source: Hu et al. 2021, LoRA (§4.1, "no additional inference latency").
    public func merged(into checkpoint: LlamaCheckpoint) throws -> LlamaCheckpoint {
        var out = checkpoint
        let r = config.r, s = config.scaling
        let layout = checkpoint.layout
        for (name, pair) in pairs {
            guard let t = layout.tensor(named: name), var w = out.tensors[name] else {
                throw ExportError.invalidAdapter(path: "<memory>", detail: "the base checkpoint has no '\(name)'")
            }
            let rows = t.shape[0], cols = t.shape[1]
            w.withUnsafeMutableBufferPointer { W in
                pair.a.withUnsafeBufferPointer { A in
                    pair.b.withUnsafeBufferPointer { B in
                        var row = [Float](repeating: 0, count: cols)
                        for o in 0..<rows {
                            for c in 0..<cols { row[c] = 0 }
                            for k in 0..<r {
                                let bk = B[o * r + k]
                                if bk == 0 { continue }
                                for c in 0..<cols { row[c] += bk * A[k * cols + c] }
                            }
                            for c in 0..<cols { W[o * cols + c] += s * row[c] }
                        }
                    }
                }
            }
            out.tensors[name] = w
        }
        return out
    }

    // MARK: - Writing

    /// Writes `adapter_config.json` and `adapter_model.safetensors` (PEFT key names) into `directory`.
    /// - Parameters:
    ///   - directory: an existing directory.
    ///   - dtype: element type of the LoRA matrices (`.f32`, `.f16`, `.bf16`).
    ///   - base: the base model's config (orders the tensors as the model does).
    /// - Throws: `ExportError.writeFailed`.
    public func write(to directory: URL, dtype: SafeTensorsDType = .f32, base: LlamaConfig) throws {
        let layout = LlamaTensorLayout(config: base)
        var writer = SafeTensorsWriter()
        let configURL = directory.appendingPathComponent("adapter_config.json")
        let weightsURL = directory.appendingPathComponent("adapter_model.safetensors")
        do {
            for t in layout.tensors {
                guard let pair = pairs[t.name] else { continue }
                try writer.add(Self.peftKey(t.name, "lora_A"), shape: [config.r, t.shape[1]], floats: pair.a, dtype: dtype)
                try writer.add(Self.peftKey(t.name, "lora_B"), shape: [t.shape[0], config.r], floats: pair.b, dtype: dtype)
            }
            try writer.write(to: weightsURL)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try encoder.encode(config).write(to: configURL, options: .atomic)
        } catch {
            throw ExportError.writeFailed(path: directory.path, detail: "\(error)")
        }
    }
}
