import Llama

/// The tensors of a Hugging Face `LlamaForCausalLM` checkpoint: names, shapes and GGUF names.
///
/// Shapes are PyTorch order (outermost first); a linear weight is `[out_features, in_features]`.
/// Legend: V vocab, C hidden, F intermediate, NH heads, NKV key/value heads, HD head dim.
/// Sources: transformers `modeling_llama.py` (names), llama.cpp `gguf-py/gguf/tensor_mapping.py` (GGUF names).
public struct LlamaTensorLayout: Sendable {
    /// One tensor of the checkpoint.
    public struct Tensor: Equatable, Sendable {
        /// Hugging Face name, e.g. `model.layers.0.self_attn.q_proj.weight`.
        public var name: String
        /// Shape, outermost first.
        public var shape: [Int]
        /// llama.cpp name, e.g. `blk.0.attn_q.weight`.
        public var ggufName: String
        /// The layer index, nil for embeddings, final norm and head.
        public var layer: Int?
        /// Whether this is a LoRA-targetable linear projection (q/k/v/o, gate/up/down).
        public var isProjection: Bool
    }

    /// Tensors in checkpoint order: embeddings, layers 0..<L, final norm, head (absent when tied).
    public let tensors: [Tensor]
    private let byName: [String: Int]

    /// Builds the layout of `config`.
    public init(config c: LlamaConfig) {
        let q = c.numAttentionHeads * c.headDim, kv = c.numKeyValueHeads * c.headDim
        var list: [Tensor] = [Tensor(name: "model.embed_tokens.weight", shape: [c.vocabSize, c.hiddenSize],
                                     ggufName: "token_embd.weight", layer: nil, isProjection: false)]
        for i in 0..<c.numHiddenLayers {
            let p = "model.layers.\(i)."
            func t(_ hf: String, _ shape: [Int], _ gg: String, _ proj: Bool) -> Tensor {
                Tensor(name: p + hf, shape: shape, ggufName: "blk.\(i).\(gg).weight", layer: i, isProjection: proj)
            }
            list += [
                t("input_layernorm.weight", [c.hiddenSize], "attn_norm", false),
                t("self_attn.q_proj.weight", [q, c.hiddenSize], "attn_q", true),
                t("self_attn.k_proj.weight", [kv, c.hiddenSize], "attn_k", true),
                t("self_attn.v_proj.weight", [kv, c.hiddenSize], "attn_v", true),
                t("self_attn.o_proj.weight", [c.hiddenSize, q], "attn_output", true),
                t("post_attention_layernorm.weight", [c.hiddenSize], "ffn_norm", false),
                t("mlp.gate_proj.weight", [c.intermediateSize, c.hiddenSize], "ffn_gate", true),
                t("mlp.up_proj.weight", [c.intermediateSize, c.hiddenSize], "ffn_up", true),
                t("mlp.down_proj.weight", [c.hiddenSize, c.intermediateSize], "ffn_down", true),
            ]
        }
        list.append(Tensor(name: "model.norm.weight", shape: [c.hiddenSize], ggufName: "output_norm.weight", layer: nil, isProjection: false))
        if !c.tieWordEmbeddings {
            list.append(Tensor(name: "lm_head.weight", shape: [c.vocabSize, c.hiddenSize], ggufName: "output.weight", layer: nil, isProjection: false))
        }
        tensors = list
        var index: [String: Int] = [:]
        for (i, t) in list.enumerated() { index[t.name] = i }
        byName = index
    }

    /// The tensor called `name` (Hugging Face name), or nil.
    public func tensor(named name: String) -> Tensor? { byName[name].map { tensors[$0] } }
}
