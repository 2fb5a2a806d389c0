// The parameters of one decoder layer, named as Hugging Face's `LlamaDecoderLayer` names them.

import Tensors

// MARK: - LlamaDecoderLayer

/// One decoder layer: RMSNorm → attention (q/k/v/o projections, RoPE, causal GQA) → residual →
/// RMSNorm → SwiGLU MLP (gate/up/down) → residual.
public final class LlamaDecoderLayer {
    /// `model.layers.N.input_layernorm.weight` `[C]` (no weight decay).
    public let inputLayernorm: Parameter
    /// `self_attn.q_proj` `[H*D, C]`.
    public let qProj: Linear
    /// `self_attn.k_proj` `[G*D, C]`.
    public let kProj: Linear
    /// `self_attn.v_proj` `[G*D, C]`.
    public let vProj: Linear
    /// `self_attn.o_proj` `[C, H*D]`.
    public let oProj: Linear
    /// `model.layers.N.post_attention_layernorm.weight` `[C]` (no weight decay).
    public let postAttentionLayernorm: Parameter
    /// `mlp.gate_proj` `[F, C]`.
    public let gateProj: Linear
    /// `mlp.up_proj` `[F, C]`.
    public let upProj: Linear
    /// `mlp.down_proj` `[C, F]`.
    public let downProj: Linear

    /// Creates the layer's zero parameters for layer `index`.
    public init(index i: Int, config: LlamaConfig) {
        let c = config.hiddenSize, f = config.intermediateSize
        let q = config.numAttentionHeads * config.headDim, kv = config.numKeyValueHeads * config.headDim
        let p = "model.layers.\(i)."
        inputLayernorm = Parameter(name: p + "input_layernorm.weight", shape: [c], weightDecay: false)
        qProj = Linear(name: p + "self_attn.q_proj.weight", inFeatures: c, outFeatures: q)
        kProj = Linear(name: p + "self_attn.k_proj.weight", inFeatures: c, outFeatures: kv)
        vProj = Linear(name: p + "self_attn.v_proj.weight", inFeatures: c, outFeatures: kv)
        oProj = Linear(name: p + "self_attn.o_proj.weight", inFeatures: q, outFeatures: c)
        postAttentionLayernorm = Parameter(name: p + "post_attention_layernorm.weight", shape: [c], weightDecay: false)
        gateProj = Linear(name: p + "mlp.gate_proj.weight", inFeatures: c, outFeatures: f)
        upProj = Linear(name: p + "mlp.up_proj.weight", inFeatures: c, outFeatures: f)
        downProj = Linear(name: p + "mlp.down_proj.weight", inFeatures: f, outFeatures: c)
    }

    /// The linear layers by their Hugging Face module name (`q_proj`, ..., `down_proj`): LoRA's target list.
    public var linears: [(module: String, layer: Linear)] {
        [("q_proj", qProj), ("k_proj", kProj), ("v_proj", vProj), ("o_proj", oProj),
         ("gate_proj", gateProj), ("up_proj", upProj), ("down_proj", downProj)]
    }

    /// Parameters in Hugging Face's `named_parameters()` order: q, k, v, o, gate, up, down, the two norms.
    public var parameters: [Parameter] {
        [qProj.weight, kProj.weight, vProj.weight, oProj.weight, gateProj.weight, upProj.weight, downProj.weight,
         inputLayernorm, postAttentionLayernorm]
    }
}
