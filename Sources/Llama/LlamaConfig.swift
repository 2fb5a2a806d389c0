import Foundation

/// The hyper-parameters of a Llama decoder, with exactly the keys of Hugging Face's `config.json`.
///
/// Reads both layouts seen in the wild: transformers v4 (`rope_theta` at the top level,
/// `torch_dtype`) and v5 (`rope_parameters: {"rope_theta", "rope_type"}`, `dtype`). Writes both RoPE
/// spellings so that either version loads the file. Keys HF allows to be missing fall back to HF's
/// defaults (`num_key_value_heads` = heads, `head_dim` = hidden / heads, `rope_theta` 10000).
/// Source: transformers `src/transformers/models/llama/configuration_llama.py`.
public struct LlamaConfig: Codable, Equatable, Sendable {
    /// Tokens in the vocabulary (`vocab_size`): rows of `embed_tokens` and `lm_head`.
    public var vocabSize: Int
    /// Model width C (`hidden_size`).
    public var hiddenSize: Int
    /// SwiGLU inner width F (`intermediate_size`).
    public var intermediateSize: Int
    /// Decoder layers L (`num_hidden_layers`).
    public var numHiddenLayers: Int
    /// Query heads NH (`num_attention_heads`).
    public var numAttentionHeads: Int
    /// Key/value heads NKV (`num_key_value_heads`); NH must be a multiple (grouped-query attention).
    public var numKeyValueHeads: Int
    /// Per-head width HD (`head_dim`), default `hidden_size / num_attention_heads`.
    public var headDim: Int
    /// Longest sequence the model is meant for, in tokens (`max_position_embeddings`).
    public var maxPositionEmbeddings: Int
    /// RMSNorm epsilon (`rms_norm_eps`).
    public var rmsNormEps: Float
    /// RoPE base θ (`rope_theta`, or `rope_parameters.rope_theta` in v5).
    public var ropeTheta: Float
    /// Whether `lm_head` shares the embedding matrix (`tie_word_embeddings`).
    public var tieWordEmbeddings: Bool
    /// Beginning-of-sequence token id (`bos_token_id`).
    public var bosTokenId: Int?
    /// End-of-sequence token id (`eos_token_id`; the first when the file gives a list).
    public var eosTokenId: Int?
    /// Padding token id (`pad_token_id`), distinct from EOS in this project.
    public var padTokenId: Int?
    /// Std of the normal initialisation (`initializer_range`).
    public var initializerRange: Float
    /// Activation of the MLP (`hidden_act`); only `silu` is implemented.
    public var hiddenAct: String
    /// Bias on q/k/v/o projections (`attention_bias`); must be false here.
    public var attentionBias: Bool
    /// Bias on the MLP projections (`mlp_bias`); must be false here.
    public var mlpBias: Bool

    /// Creates a config; `numKeyValueHeads` defaults to `numAttentionHeads` and `headDim` to
    /// `hiddenSize / numAttentionHeads`.
    public init(vocabSize: Int, hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int,
                numAttentionHeads: Int, numKeyValueHeads: Int? = nil, headDim: Int? = nil,
                maxPositionEmbeddings: Int = 2048, rmsNormEps: Float = 1e-5, ropeTheta: Float = 10000,
                tieWordEmbeddings: Bool = false, bosTokenId: Int? = nil, eosTokenId: Int? = nil,
                padTokenId: Int? = nil, initializerRange: Float = 0.02) {
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.numKeyValueHeads = numKeyValueHeads ?? numAttentionHeads
        self.headDim = headDim ?? (numAttentionHeads > 0 ? hiddenSize / numAttentionHeads : 0)
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.tieWordEmbeddings = tieWordEmbeddings
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
        self.padTokenId = padTokenId
        self.initializerRange = initializerRange
        self.hiddenAct = "silu"
        self.attentionBias = false
        self.mlpBias = false
    }

    // MARK: - Codable (Hugging Face keys)

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size"
        case hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads"
        case headDim = "head_dim"
        case maxPositionEmbeddings = "max_position_embeddings"
        case rmsNormEps = "rms_norm_eps"
        case ropeTheta = "rope_theta"
        case ropeParameters = "rope_parameters"
        case ropeScaling = "rope_scaling"
        case tieWordEmbeddings = "tie_word_embeddings"
        case bosTokenId = "bos_token_id"
        case eosTokenId = "eos_token_id"
        case padTokenId = "pad_token_id"
        case initializerRange = "initializer_range"
        case hiddenAct = "hidden_act"
        case attentionBias = "attention_bias"
        case attentionDropout = "attention_dropout"
        case mlpBias = "mlp_bias"
        case architectures
        case modelType = "model_type"
        case torchDtype = "torch_dtype"
        case dtype
        case useCache = "use_cache"
        case pretrainingTp = "pretraining_tp"
        case transformersVersion = "transformers_version"
    }

    struct RopeParameters: Codable {
        var ropeTheta: Double?
        var ropeType: String?
        enum CodingKeys: String, CodingKey { case ropeTheta = "rope_theta", ropeType = "rope_type" }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        numHiddenLayers = try c.decode(Int.self, forKey: .numHiddenLayers)
        numAttentionHeads = try c.decode(Int.self, forKey: .numAttentionHeads)
        numKeyValueHeads = try c.decodeIfPresent(Int.self, forKey: .numKeyValueHeads) ?? numAttentionHeads
        headDim = try c.decodeIfPresent(Int.self, forKey: .headDim)
            ?? (numAttentionHeads > 0 ? hiddenSize / numAttentionHeads : 0)
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? 2048
        rmsNormEps = try c.decodeIfPresent(Float.self, forKey: .rmsNormEps) ?? 1e-6
        let v5 = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeParameters)
        if let type = v5?.ropeType, type != "default" {
            throw DecodingError.dataCorruptedError(forKey: .ropeParameters, in: c,
                debugDescription: "rope_type '\(type)' is not supported (only 'default' RoPE)")
        }
        ropeTheta = try c.decodeIfPresent(Float.self, forKey: .ropeTheta) ?? v5?.ropeTheta.map(Float.init) ?? 10000
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? false
        bosTokenId = try Self.decodeTokenId(c, .bosTokenId)
        eosTokenId = try Self.decodeTokenId(c, .eosTokenId)
        padTokenId = try Self.decodeTokenId(c, .padTokenId)
        initializerRange = try c.decodeIfPresent(Float.self, forKey: .initializerRange) ?? 0.02
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? "silu"
        attentionBias = try c.decodeIfPresent(Bool.self, forKey: .attentionBias) ?? false
        mlpBias = try c.decodeIfPresent(Bool.self, forKey: .mlpBias) ?? false
    }

    /// HF writes token ids as an int, null, or (for EOS) a list of ints.
    private static func decodeTokenId(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> Int? {
        if let v = try? c.decodeIfPresent(Int.self, forKey: key) { return v }
        if let list = try? c.decodeIfPresent([Int].self, forKey: key) { return list.first }
        return nil
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(["LlamaForCausalLM"], forKey: .architectures)
        try c.encode("llama", forKey: .modelType)
        try c.encode(vocabSize, forKey: .vocabSize)
        try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(intermediateSize, forKey: .intermediateSize)
        try c.encode(numHiddenLayers, forKey: .numHiddenLayers)
        try c.encode(numAttentionHeads, forKey: .numAttentionHeads)
        try c.encode(numKeyValueHeads, forKey: .numKeyValueHeads)
        try c.encode(headDim, forKey: .headDim)
        try c.encode(maxPositionEmbeddings, forKey: .maxPositionEmbeddings)
        try c.encode(shortestDouble(rmsNormEps), forKey: .rmsNormEps)
        try c.encode(shortestDouble(ropeTheta), forKey: .ropeTheta)
        try c.encode(RopeParameters(ropeTheta: shortestDouble(ropeTheta), ropeType: "default"), forKey: .ropeParameters)
        try c.encodeNil(forKey: .ropeScaling)
        try c.encode(tieWordEmbeddings, forKey: .tieWordEmbeddings)
        try c.encode(bosTokenId, forKey: .bosTokenId)
        try c.encode(eosTokenId, forKey: .eosTokenId)
        try c.encode(padTokenId, forKey: .padTokenId)
        try c.encode(shortestDouble(initializerRange), forKey: .initializerRange)
        try c.encode(hiddenAct, forKey: .hiddenAct)
        try c.encode(attentionBias, forKey: .attentionBias)
        try c.encode(0.0, forKey: .attentionDropout)
        try c.encode(mlpBias, forKey: .mlpBias)
        try c.encode("float32", forKey: .torchDtype)
        try c.encode("float32", forKey: .dtype)
        try c.encode(true, forKey: .useCache)
        try c.encode(1, forKey: .pretrainingTp)
    }

    // MARK: - Files

    /// Reads and validates a `config.json`.
    /// - Throws: `LlamaConfigError.unreadable` (missing file, invalid JSON or a required key absent,
    ///   naming the key) or any error of `validate()`.
    public static func load(contentsOf url: URL) throws -> LlamaConfig {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw LlamaConfigError.unreadable(path: url.path, detail: "cannot read the file (\(error.localizedDescription))")
        }
        let config: LlamaConfig
        do { config = try JSONDecoder().decode(LlamaConfig.self, from: data) } catch let DecodingError.keyNotFound(key, _) {
            throw LlamaConfigError.unreadable(path: url.path, detail: "required key '\(key.stringValue)' is missing")
        } catch let DecodingError.typeMismatch(_, ctx), let DecodingError.valueNotFound(_, ctx) {
            let key = ctx.codingPath.map(\.stringValue).joined(separator: ".")
            throw LlamaConfigError.unreadable(path: url.path, detail: "key '\(key)' has the wrong type")
        } catch let DecodingError.dataCorrupted(ctx) {
            throw LlamaConfigError.unreadable(path: url.path, detail: ctx.debugDescription)
        } catch {
            throw LlamaConfigError.unreadable(path: url.path, detail: "\(error)")
        }
        try config.validate()
        return config
    }

    /// The canonical `config.json` bytes (pretty, sorted keys), loadable by transformers v4 and v5.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// Writes `config.json` atomically (temporary file + rename).
    /// - Throws: Foundation's error when the directory is not writable.
    public func write(to url: URL) throws {
        try jsonData().write(to: url, options: .atomic)
    }

    /// Checks the shape constraints the kernels rely on.
    /// - Throws: `LlamaConfigError.invalid` naming the key and the fix, e.g. a hidden size not
    ///   divisible by the head count, heads not a multiple of KV heads, an odd head dim (RoPE pairs),
    ///   a non-positive size, biases or an activation other than SiLU.
    public func validate() throws {
        func fail(_ key: String, _ why: String) -> LlamaConfigError { .invalid(key: key, detail: why) }
        for (key, v) in [("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
                         ("num_hidden_layers", numHiddenLayers), ("num_attention_heads", numAttentionHeads),
                         ("num_key_value_heads", numKeyValueHeads), ("head_dim", headDim),
                         ("max_position_embeddings", maxPositionEmbeddings)] where v <= 0 {
            throw fail(key, "must be positive, got \(v)")
        }
        if hiddenSize % numAttentionHeads != 0 {
            throw fail("hidden_size", "\(hiddenSize) is not divisible by num_attention_heads \(numAttentionHeads); choose a multiple")
        }
        if numAttentionHeads % numKeyValueHeads != 0 {
            throw fail("num_key_value_heads", "num_attention_heads \(numAttentionHeads) must be a multiple of num_key_value_heads \(numKeyValueHeads)")
        }
        if headDim % 2 != 0 { throw fail("head_dim", "\(headDim) must be even for rotary embeddings") }
        if !(rmsNormEps > 0) { throw fail("rms_norm_eps", "must be positive") }
        if !(ropeTheta > 0) { throw fail("rope_theta", "must be positive") }
        if hiddenAct != "silu" { throw fail("hidden_act", "'\(hiddenAct)' is not supported; use 'silu'") }
        if attentionBias { throw fail("attention_bias", "biases on attention projections are not supported") }
        if mlpBias { throw fail("mlp_bias", "biases on MLP projections are not supported") }
        for (key, id) in [("bos_token_id", bosTokenId), ("eos_token_id", eosTokenId), ("pad_token_id", padTokenId)] {
            if let id, id < 0 || id >= vocabSize { throw fail(key, "\(id) is outside the vocabulary [0, \(vocabSize))") }
        }
    }
}

/// Errors reading or validating a `LlamaConfig`.
public enum LlamaConfigError: Error, CustomStringConvertible, Equatable {
    /// The file cannot be read or decoded.
    case unreadable(path: String, detail: String)
    /// A key has a value the model cannot use.
    case invalid(key: String, detail: String)

    public var description: String {
        switch self {
        case let .unreadable(path, detail): return "config \(path): \(detail)"
        case let .invalid(key, detail): return "config key '\(key)': \(detail)"
        }
    }
}

/// The Double whose shortest decimal form equals the Float's (1e-5f is written `1e-05`, not
/// `9.99999974737875e-06`), so config.json shows the value the user gave.
private func shortestDouble(_ x: Float) -> Double { Double("\(x)") ?? Double(x) }
