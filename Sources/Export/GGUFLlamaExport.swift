import Foundation
import Llama

/// How the weights of a GGUF file are stored.
public enum GGUFWeightType: String, Sendable, CaseIterable {
    case f32, f16, bf16
    case q8_0 = "q8_0"
    case q4_0 = "q4_0"

    /// `general.file_type` (llama.cpp `llama_ftype`): 0 all F32, 1 mostly F16, 7 mostly Q8_0, 2 mostly Q4_0, 32 mostly BF16.
    public var fileType: UInt32 {
        switch self {
        case .f32: return 0
        case .f16: return 1
        case .q4_0: return 2
        case .q8_0: return 7
        case .bf16: return 32
        }
    }

    /// The ggml type of 2-D weight matrices.
    public var matrixType: GGMLType {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        case .q8_0: return .q8_0
        case .q4_0: return .q4_0
        }
    }

    /// Whether the file holds quantised blocks (then `general.quantization_version` is required).
    public var isQuantized: Bool { self == .q8_0 || self == .q4_0 }
}

/// Builds a llama.cpp-loadable GGUF file from a Llama checkpoint and its byte-level BPE tokenizer.
///
/// - Metadata: `general.architecture = llama`, `general.name`, `general.file_type`,
///   `general.quantization_version = 2` when quantised, `llama.{context_length, embedding_length,
///   block_count, feed_forward_length, rope.dimension_count, rope.freq_base, attention.head_count,
///   attention.head_count_kv, attention.layer_norm_rms_epsilon, attention.key_length,
///   attention.value_length, vocab_size}` (u32 / f32, the types llama.cpp's loader checks).
/// - Tokenizer: `tokenizer.ggml.model = gpt2`, `tokenizer.ggml.pre = gpt-2` (llama.cpp maps `gpt-2`
///   to `LLAMA_VOCAB_PRE_TYPE_GPT2`, whose split regex is GPT-2's, the one HF ByteLevel with
///   `use_regex` applies; `default` would add a punctuation split HF does not do), tokens, token
///   types, merges, BOS/EOS/PAD ids, `add_bos_token`, `add_space_prefix`.
/// - Tensors: llama.cpp names; Q and K rows permuted (`permuteForGGUF`); norms and other 1-D tensors
///   stay F32; 2-D weights take the file's type, except that a Q4_0 file stores the output head
///   (`output.weight`, or `token_embd.weight` when tied) as Q8_0, as llama.cpp's quantizer keeps the
///   head at higher precision (it uses Q6_K, which this exporter does not implement).
/// Sources: ggml `docs/gguf.md`; llama.cpp `convert_hf_to_gguf.py` / `conversion/llama.py`,
/// `src/llama-vocab.cpp`, `src/llama-quant.cpp`.
public enum GGUFLlamaExport {
    /// Quantisation format version of Q8_0/Q4_0 blocks (ggml `GGML_QNT_VERSION`).
    public static let quantizationVersion: UInt32 = 2

    /// Permutes the rows of a Q or K projection from Hugging Face's rotate-half RoPE layout to the
    /// interleaved layout llama.cpp's `llama` architecture expects.
    ///
    /// Within each head of `HD` rows, new row `2i + j` is old row `j · HD/2 + i` (j ∈ {0, 1}), i.e.
    /// `reshape(heads, 2, HD/2, cols).swapaxes(1, 2).reshape(rows, cols)`.
    /// Worked example (1 head, HD = 4, one column): rows `[a, b, c, d]` → `[a, c, b, d]`.
    /// - Parameters:
    ///   - w: `[heads*HD, cols]` row-major.
    ///   - heads: NH for q_proj, NKV for k_proj.
    ///   - cols: the input width C.
    /// - Returns: the permuted `[heads*HD, cols]`.
    /// Source: llama.cpp `conversion/llama.py` `LlamaModel.permute`.
    public static func permuteForGGUF(_ w: [Float], heads: Int, cols: Int) -> [Float] {
        let rows = w.count / cols
        let half = rows / heads / 2
        var out = [Float](repeating: 0, count: w.count)
        w.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for h in 0..<heads {
                    for i in 0..<half {
                        for j in 0..<2 {
                            let newRow = h * 2 * half + 2 * i + j, oldRow = h * 2 * half + j * half + i
                            for c in 0..<cols { dst[newRow * cols + c] = src[oldRow * cols + c] }
                        }
                    }
                }
            }
        }
        return out
    }

    /// The ggml type a tensor is stored as in a file of `weights` type.
    /// - Parameters:
    ///   - tensor: the tensor (1-D tensors and norms stay F32).
    ///   - weights: the file's weight type.
    ///   - tied: whether the embedding doubles as the output head.
    ///   - allowF16Fallback: store a block-quantised tensor whose rows are not a multiple of 32 as F16.
    public static func storageType(of tensor: LlamaTensorLayout.Tensor, weights: GGUFWeightType, tied: Bool, allowF16Fallback: Bool) -> GGMLType {
        if tensor.shape.count < 2 || tensor.ggufName.hasSuffix("_norm.weight") { return .f32 }
        var type = weights.matrixType
        let isHead = tensor.ggufName == "output.weight" || (tied && tensor.ggufName == "token_embd.weight")
        if weights == .q4_0 && isHead { type = .q8_0 }
        if allowF16Fallback, tensor.shape[tensor.shape.count - 1] % type.blockSize != 0 { type = .f16 }
        return type
    }

    /// Builds the writer (metadata + tensors) for a checkpoint.
    ///
    /// - Parameters:
    ///   - checkpoint: the weights (merged already if they came with a LoRA adapter).
    ///   - tokenizer: its tokenizer files.
    ///   - weights: the file's weight type.
    ///   - name: `general.name`.
    ///   - allowF16Fallback: see `storageType`.
    ///   - tokenizerPre: override of `tokenizer.ggml.pre` for a tokenizer that is not GPT-2 style.
    /// - Returns: the writer, ready for `write(to:)`.
    /// - Throws: `ExportError.invalidTokenizer` when the tokenizer is larger than `vocab_size`, is not
    ///   GPT-2-style byte-level BPE (and no override is given), or a special id is out of range;
    ///   `.rowLengthNotQuantizable` for a row length that is not a multiple of 32 with a block type;
    ///   `.invalidModel` for a non-finite weight in a quantised tensor.
    public static func makeWriter(checkpoint: LlamaCheckpoint, tokenizer: TokenizerFiles, weights: GGUFWeightType,
                                  name: String, allowF16Fallback: Bool = false, tokenizerPre: String? = nil) throws -> GGUFWriter {
        let c = checkpoint.config
        var w = GGUFWriter()
        // General
        try w.set("general.architecture", .string("llama"))
        try w.set("general.name", .string(name))
        try w.set("general.file_type", .uint32(weights.fileType))
        if weights.isQuantized { try w.set("general.quantization_version", .uint32(quantizationVersion)) }
        // Hyper-parameters (llama.cpp reads these as u32 / f32).
        try w.set("llama.vocab_size", .uint32(UInt32(c.vocabSize)))
        try w.set("llama.context_length", .uint32(UInt32(c.maxPositionEmbeddings)))
        try w.set("llama.embedding_length", .uint32(UInt32(c.hiddenSize)))
        try w.set("llama.block_count", .uint32(UInt32(c.numHiddenLayers)))
        try w.set("llama.feed_forward_length", .uint32(UInt32(c.intermediateSize)))
        try w.set("llama.rope.dimension_count", .uint32(UInt32(c.headDim)))
        try w.set("llama.rope.freq_base", .float32(c.ropeTheta))
        try w.set("llama.attention.head_count", .uint32(UInt32(c.numAttentionHeads)))
        try w.set("llama.attention.head_count_kv", .uint32(UInt32(c.numKeyValueHeads)))
        try w.set("llama.attention.layer_norm_rms_epsilon", .float32(c.rmsNormEps))
        try w.set("llama.attention.key_length", .uint32(UInt32(c.headDim)))
        try w.set("llama.attention.value_length", .uint32(UInt32(c.headDim)))
        try addTokenizer(to: &w, tokenizer: tokenizer, config: c, pre: tokenizerPre)

        // Tensors
        for t in checkpoint.layout.tensors {
            guard var data = checkpoint.tensors[t.name] else {
                throw ExportError.invalidModel(path: "<checkpoint>", detail: "tensor '\(t.name)' is missing")
            }
            if t.name.hasSuffix("self_attn.q_proj.weight") {
                data = permuteForGGUF(data, heads: c.numAttentionHeads, cols: c.hiddenSize)
            } else if t.name.hasSuffix("self_attn.k_proj.weight") {
                data = permuteForGGUF(data, heads: c.numKeyValueHeads, cols: c.hiddenSize)
            }
            let type = storageType(of: t, weights: weights, tied: c.tieWordEmbeddings, allowF16Fallback: allowF16Fallback)
            if type == .q8_0 || type == .q4_0, let bad = data.firstIndex(where: { !$0.isFinite }) {
                throw ExportError.invalidModel(path: "<checkpoint>", detail: "tensor '\(t.name)' holds a non-finite value at index \(bad); cannot quantise")
            }
            try w.addTensor(t.ggufName, shape: t.shape, type: type, data: data)
        }
        return w
    }

    /// Adds the `tokenizer.ggml.*` keys for a GPT-2-style byte-level BPE tokenizer.
    static func addTokenizer(to w: inout GGUFWriter, tokenizer: TokenizerFiles, config c: LlamaConfig, pre: String?) throws {
        func fail(_ d: String) -> ExportError { .invalidTokenizer(path: "tokenizer.json", detail: d) }
        guard tokenizer.tokens.count <= c.vocabSize else {
            throw fail("the tokenizer has \(tokenizer.tokens.count) tokens but config.json's vocab_size is \(c.vocabSize)")
        }
        guard tokenizer.isGPT2PreTokenizer || pre != nil else {
            throw fail("the pre-tokenizer is not GPT-2's byte-level split (ByteLevel, use_regex: true, no normalizer); pass the llama.cpp pre-tokenizer name that matches it")
        }
        // Pad to vocab_size as llama.cpp's converter does (`[PADi]`, type unused).
        var tokens = tokenizer.tokens, types = tokenizer.ggufTokenTypes()
        for i in tokens.count..<c.vocabSize { tokens.append("[PAD\(i)]"); types.append(5) }
        try w.set("tokenizer.ggml.model", .string("gpt2"))
        try w.set("tokenizer.ggml.pre", .string(pre ?? "gpt-2"))
        try w.set("tokenizer.ggml.tokens", .strings(tokens))
        try w.set("tokenizer.ggml.token_type", .int32s(types))
        try w.set("tokenizer.ggml.merges", .strings(tokenizer.merges))
        for (key, id) in [("bos_token_id", c.bosTokenId), ("eos_token_id", c.eosTokenId), ("padding_token_id", c.padTokenId)] {
            guard let id else { continue }
            guard id >= 0, id < c.vocabSize else { throw fail("\(key) \(id) is outside the vocabulary") }
            try w.set("tokenizer.ggml.\(key)", .uint32(UInt32(id)))
        }
        try w.set("tokenizer.ggml.add_bos_token", .bool(tokenizer.addsBOS))
        try w.set("tokenizer.ggml.add_eos_token", .bool(false))
        try w.set("tokenizer.ggml.add_space_prefix", .bool(tokenizer.addPrefixSpace))
        if let template = tokenizer.chatTemplate { try w.set("tokenizer.chat_template", .string(template)) }
    }
}
