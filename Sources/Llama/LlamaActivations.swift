// Buffers the forward pass caches for backward, allocated once per (B, T) and reused.

import Tensors

// MARK: - Activations

/// Per-layer cached activations (legend: N = B*T, C hidden, F intermediate, H heads, G kv heads, D head dim).
final class LayerActivations {
    let ln1: Tensor      // [N, C]  input_layernorm output
    let rstd1: Tensor    // [N]
    let q: Tensor        // [N, H*D] after RoPE
    let k: Tensor        // [N, G*D] after RoPE
    let v: Tensor        // [N, G*D]
    let probs: Tensor    // [B, H, T, T]
    let attn: Tensor     // [N, H*D] attention output (o_proj input)
    let resid2: Tensor   // [N, C]  after the attention residual
    let ln2: Tensor      // [N, C]  post_attention_layernorm output
    let rstd2: Tensor    // [N]
    let gate: Tensor     // [N, F]
    let up: Tensor       // [N, F]
    let act: Tensor      // [N, F]  silu(gate) * up (down_proj input)

    init(b: Int, t: Int, config cfg: LlamaConfig) {
        let n = b * t, c = cfg.hiddenSize, f = cfg.intermediateSize
        let qd = cfg.numAttentionHeads * cfg.headDim, kvd = cfg.numKeyValueHeads * cfg.headDim
        ln1 = Tensor(shape: [n, c]); rstd1 = Tensor(shape: [n])
        q = Tensor(shape: [n, qd]); k = Tensor(shape: [n, kvd]); v = Tensor(shape: [n, kvd])
        probs = Tensor(shape: [b, cfg.numAttentionHeads, t, t])
        attn = Tensor(shape: [n, qd]); resid2 = Tensor(shape: [n, c])
        ln2 = Tensor(shape: [n, c]); rstd2 = Tensor(shape: [n])
        gate = Tensor(shape: [n, f]); up = Tensor(shape: [n, f]); act = Tensor(shape: [n, f])
    }
}

/// Whole-model cached activations and backward workspaces for one (B, T).
final class ModelActivations {
    let batch: Int, seqLen: Int
    let cos: Tensor, sin: Tensor      // [N, D/2]
    let residuals: [Tensor]           // L+1 of [N, C]: embedding output, then each layer's output
    let layers: [LayerActivations]
    let normOut: Tensor               // [N, C] final RMSNorm output
    let normRstd: Tensor              // [N]
    let logits: Tensor                // [N, V]
    // Backward workspaces.
    let dResid: Tensor, dLn: Tensor, dNorm: Tensor   // [N, C]
    let dAttn: Tensor, dq: Tensor                    // [N, H*D]
    let dk: Tensor, dv: Tensor                       // [N, G*D]
    let dGate: Tensor, dUp: Tensor, dAct: Tensor     // [N, F]
    let scratch: Tensor                              // [N, C] and [T, T]
    let attScratch: Tensor                           // [T, T]
    lazy var dLogits = Tensor(shape: logits.shape)   // [N, V], only for backwardLoss
    lazy var logSumExp = Tensor(shape: [batch * seqLen])  // [N] softmax normalisers of loss(), for backwardLoss

    init(b: Int, t: Int, config cfg: LlamaConfig) {
        let n = b * t, c = cfg.hiddenSize, f = cfg.intermediateSize
        let qd = cfg.numAttentionHeads * cfg.headDim, kvd = cfg.numKeyValueHeads * cfg.headDim
        batch = b; seqLen = t
        cos = Tensor(shape: [n, cfg.headDim / 2]); sin = Tensor(shape: [n, cfg.headDim / 2])
        residuals = (0...cfg.numHiddenLayers).map { _ in Tensor(shape: [n, c]) }
        layers = (0..<cfg.numHiddenLayers).map { _ in LayerActivations(b: b, t: t, config: cfg) }
        normOut = Tensor(shape: [n, c]); normRstd = Tensor(shape: [n])
        logits = Tensor(shape: [n, cfg.vocabSize])
        dResid = Tensor(shape: [n, c]); dLn = Tensor(shape: [n, c]); dNorm = Tensor(shape: [n, c])
        dAttn = Tensor(shape: [n, qd]); dq = Tensor(shape: [n, qd])
        dk = Tensor(shape: [n, kvd]); dv = Tensor(shape: [n, kvd])
        dGate = Tensor(shape: [n, f]); dUp = Tensor(shape: [n, f]); dAct = Tensor(shape: [n, f])
        scratch = Tensor(shape: [n, c]); attScratch = Tensor(shape: [t, t])
    }
}
