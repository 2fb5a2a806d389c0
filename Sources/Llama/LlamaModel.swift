// LlamaForCausalLM in Float32 on OpenBLAS: parameters with Hugging Face names, forward caching
// activations, backward accumulating into every parameter's gradient.
//
// Legend: B batch, T tokens per sequence, N = B*T, C hidden_size, F intermediate_size, V vocab_size,
// H num_attention_heads, G num_key_value_heads, D head_dim, L num_hidden_layers.

import Foundation
import Tensors

// MARK: - LlamaModel

/// A Llama decoder with a language-model head, the same math as Hugging Face `LlamaForCausalLM`.
///
/// Threading and ownership: one model instance runs one forward/backward at a time (not thread-safe);
/// its sgemm calls use OpenBLAS's threads (`BLAS.setThreads`). `forward` caches activations inside the
/// model, and `backward` uses the activations of the most recent `forward`, so run any other forward on
/// this instance (e.g. a reference pass with adapters disabled) before the forward you differentiate.
/// Parameters are classes shared with the optimiser; the model never reallocates them.
public final class LlamaModel {
    /// The architecture (validated).
    public let config: LlamaConfig
    /// `model.embed_tokens.weight` `[V, C]` (no weight decay; also the output matrix when tied).
    public let embedTokens: Parameter
    /// The L decoder layers.
    public let layers: [LlamaDecoderLayer]
    /// `model.norm.weight` `[C]` (no weight decay).
    public let norm: Parameter
    /// `lm_head.weight` `[V, C]`, nil when `tie_word_embeddings` (then `embedTokens` is used).
    public let lmHead: Linear?

    private var acts: ModelActivations?
    private var lastTokens: [Int32] = []
    private var lastMask: [UInt8]? = nil
    private var lastComputedLogits = false
    private var lossTargets: [Int32] = []
    private var lossCount = 0

    // MARK: Construction

    /// Creates a model with Hugging Face's initialisation: every linear and the embedding drawn from
    /// `normal(0, initializer_range)`, the embedding row of `pad_token_id` zeroed, norms set to 1.
    /// - Parameters:
    ///   - config: the architecture.
    ///   - seed: seed of the generator (same seed, same weights; not PyTorch's stream).
    /// - Throws: `LlamaConfigError.invalid` when the config fails `validate()`.
    /// - Source: transformers `LlamaPreTrainedModel._init_weights`.
    public init(config: LlamaConfig, seed: UInt64) throws {
        try config.validate()
        self.config = config
        embedTokens = Parameter(name: "model.embed_tokens.weight", shape: [config.vocabSize, config.hiddenSize], weightDecay: false)
        layers = (0..<config.numHiddenLayers).map { LlamaDecoderLayer(index: $0, config: config) }
        norm = Parameter(name: "model.norm.weight", shape: [config.hiddenSize], weightDecay: false)
        lmHead = config.tieWordEmbeddings ? nil
            : Linear(name: "lm_head.weight", inFeatures: config.hiddenSize, outFeatures: config.vocabSize)
        var rng = Xoshiro256(seed: seed)
        let std = Double(config.initializerRange)
        for p in parameters {
            if p.shape.count == 1 {
                p.value.fill(1)
            } else {
                for i in 0..<p.count { p.value[i] = Float(rng.nextNormal() * std) }
            }
        }
        if let pad = config.padTokenId {
            (embedTokens.value.data + pad * config.hiddenSize).update(repeating: 0, count: config.hiddenSize)
        }
    }

    /// Every parameter in a fixed canonical order, Hugging Face's `named_parameters()` order:
    /// `model.embed_tokens.weight`, then per layer q, k, v, o, gate, up, down projections and the two
    /// norms, then `model.norm.weight`, then `lm_head.weight` (absent when tied).
    public var parameters: [Parameter] {
        var ps = [embedTokens]
        for l in layers { ps += l.parameters }
        ps.append(norm)
        if let lmHead { ps.append(lmHead.weight) }
        return ps
    }

    /// The parameter called `name` (Hugging Face name), or nil.
    public func parameter(named name: String) -> Parameter? {
        parameters.first { $0.name == name }
    }

    /// Sets every parameter's gradient (and adapters' gradients) to zero.
    public func zeroGradients() {
        for p in parameters { p.zeroGradient() }
        for l in layers { for (_, lin) in l.linears { lin.adapter?.parameters.forEach { $0.zeroGradient() } } }
    }

    // MARK: Forward

    /// Runs the model on a batch and caches the activations for `backward` (side effect: overwrites the
    /// previous forward's cache and outputs).
    /// - Parameters:
    ///   - input: B sequences of T tokens (call `input.validate(for:)` first on untrusted data; invalid
    ///     sizes here are programming errors and trap).
    ///   - computeLogits: false skips `lm_head` (reward and value models read `hidden` only).
    /// - Returns: views of `logits [B*T, V]` and final-norm `hidden [B*T, C]`, valid until the next forward.
    public func forward(_ input: LlamaInput, computeLogits: Bool = true) -> LlamaOutput {
        let cfg = config
        let b = input.batch, t = input.seqLen, n = b * t
        precondition(input.tokens.count == n, "LlamaInput: \(input.tokens.count) tokens for batch \(b) x seqLen \(t)")
        if acts == nil || acts!.batch != b || acts!.seqLen != t { acts = ModelActivations(b: b, t: t, config: cfg) }
        let a = acts!
        let c = cfg.hiddenSize, f = cfg.intermediateSize, d = cfg.headDim
        let h = cfg.numAttentionHeads, g = cfg.numKeyValueHeads
        lastTokens = input.tokens
        lastMask = input.attentionMask
        lastComputedLogits = computeLogits

        let positions = input.positionIds ?? (0..<n).map { Int32($0 % t) }
        positions.withUnsafeBufferPointer {
            ropeTables(cos: a.cos.data, sin: a.sin.data, positions: $0.baseAddress!, rows: n, headDim: d, theta: cfg.ropeTheta)
        }
        input.tokens.withUnsafeBufferPointer {
            embeddingForward(out: a.residuals[0].data, tokens: $0.baseAddress!, weight: embedTokens.value.data, rows: n, channels: c)
        }
        let shape = AttentionShape(batch: b, queryLength: t, keyLength: t, heads: h, kvHeads: g, headDim: d)
        for (li, layer) in layers.enumerated() {
            let la = a.layers[li], x = a.residuals[li], out = a.residuals[li + 1]
            rmsNormForward(out: la.ln1.data, rstd: la.rstd1.data, inp: x.data, weight: layer.inputLayernorm.value.data,
                           rows: n, channels: c, eps: cfg.rmsNormEps)
            layer.qProj.forward(out: la.q.data, inp: la.ln1.data, rows: n)
            layer.kProj.forward(out: la.k.data, inp: la.ln1.data, rows: n)
            layer.vProj.forward(out: la.v.data, inp: la.ln1.data, rows: n)
            ropeForward(x: la.q.data, cos: a.cos.data, sin: a.sin.data, rows: n, heads: h, headDim: d)
            ropeForward(x: la.k.data, cos: a.cos.data, sin: a.sin.data, rows: n, heads: g, headDim: d)
            withOptionalPointer(input.attentionMask) { mask in
                attentionForward(out: la.attn.data, probs: la.probs.data, q: la.q.data, k: la.k.data, v: la.v.data,
                                 keyMask: mask, shape: shape)
            }
            layer.oProj.forward(out: a.scratch.data, inp: la.attn.data, rows: n)
            residualForward(out: la.resid2.data, a: x.data, b: a.scratch.data, count: n * c)
            rmsNormForward(out: la.ln2.data, rstd: la.rstd2.data, inp: la.resid2.data,
                           weight: layer.postAttentionLayernorm.value.data, rows: n, channels: c, eps: cfg.rmsNormEps)
            layer.gateProj.forward(out: la.gate.data, inp: la.ln2.data, rows: n)
            layer.upProj.forward(out: la.up.data, inp: la.ln2.data, rows: n)
            swigluForward(out: la.act.data, gate: la.gate.data, up: la.up.data, count: n * f)
            layer.downProj.forward(out: a.scratch.data, inp: la.act.data, rows: n)
            residualForward(out: out.data, a: la.resid2.data, b: a.scratch.data, count: n * c)
        }
        rmsNormForward(out: a.normOut.data, rstd: a.normRstd.data, inp: a.residuals[cfg.numHiddenLayers].data,
                       weight: norm.value.data, rows: n, channels: c, eps: cfg.rmsNormEps)
        if computeLogits {
            if let lmHead {
                lmHead.forward(out: a.logits.data, inp: a.normOut.data, rows: n)
            } else {
                linearForward(out: a.logits.data, inp: a.normOut.data, weight: embedTokens.value.data,
                              rows: n, inFeatures: c, outFeatures: cfg.vocabSize)
            }
        }
        return LlamaOutput(logits: computeLogits ? a.logits : nil, hidden: a.normOut)
    }

    // MARK: Backward

    /// Backpropagates from the outputs of the last `forward` and *adds* into every parameter's `grad`
    /// (parameters with `requiresGrad == false` are skipped; adapters get their gradients too).
    /// - Parameters:
    ///   - dLogits: gradient w.r.t. the logits `[B*T, V]` (flat, row-major), or nil.
    ///   - dHidden: gradient w.r.t. the final-norm hidden states `[B*T, C]`, or nil (e.g. from a value
    ///     or reward head). Both may be given; they add.
    /// - Precondition: a forward ran (with `computeLogits` when `dLogits` is given) and the sizes match.
    public func backward(dLogits: UnsafePointer<Float>?, dHidden: UnsafePointer<Float>?) {
        guard let a = acts else { preconditionFailure("LlamaModel.backward called before forward") }
        let cfg = config
        let b = a.batch, t = a.seqLen, n = b * t
        let c = cfg.hiddenSize, f = cfg.intermediateSize, d = cfg.headDim
        let h = cfg.numAttentionHeads, g = cfg.numKeyValueHeads
        let shape = AttentionShape(batch: b, queryLength: t, keyLength: t, heads: h, kvHeads: g, headDim: d)

        // lm_head and the final norm.
        a.dNorm.zero()
        if let dHidden { accumulate(a.dNorm.data, dHidden, count: n * c) }
        if let dLogits {
            precondition(lastComputedLogits, "backward(dLogits:) needs a forward with computeLogits: true")
            if let lmHead {
                lmHead.backward(dinp: a.dNorm.data, dout: dLogits, inp: a.normOut.data, rows: n)
            } else {
                linearBackward(dinp: a.dNorm.data, dweight: embedTokens.requiresGrad ? embedTokens.grad.data : nil,
                               dout: dLogits, inp: a.normOut.data, weight: embedTokens.value.data,
                               rows: n, inFeatures: c, outFeatures: cfg.vocabSize)
            }
        }
        a.dResid.zero()
        rmsNormBackward(dinp: a.dResid.data, dweight: norm.requiresGrad ? norm.grad.data : nil, dout: a.dNorm.data,
                        inp: a.residuals[cfg.numHiddenLayers].data, weight: norm.value.data, rstd: a.normRstd.data,
                        rows: n, channels: c)

        // Layers in reverse; a.dResid holds dLoss/d(layer output) on entry, dLoss/d(layer input) on exit.
        for li in stride(from: layers.count - 1, through: 0, by: -1) {
            let layer = layers[li], la = a.layers[li], x = a.residuals[li]
            // MLP branch: out = resid2 + down(silu(gate(ln2)) * up(ln2)).
            a.dAct.zero()
            layer.downProj.backward(dinp: a.dAct.data, dout: a.dResid.data, inp: la.act.data, rows: n)
            a.dGate.zero(); a.dUp.zero()
            swigluBackward(dgate: a.dGate.data, dup: a.dUp.data, dout: a.dAct.data, gate: la.gate.data, up: la.up.data, count: n * f)
            a.dLn.zero()
            layer.gateProj.backward(dinp: a.dLn.data, dout: a.dGate.data, inp: la.ln2.data, rows: n)
            layer.upProj.backward(dinp: a.dLn.data, dout: a.dUp.data, inp: la.ln2.data, rows: n)
            rmsNormBackward(dinp: a.dResid.data, dweight: layer.postAttentionLayernorm.requiresGrad ? layer.postAttentionLayernorm.grad.data : nil,
                            dout: a.dLn.data, inp: la.resid2.data, weight: layer.postAttentionLayernorm.value.data,
                            rstd: la.rstd2.data, rows: n, channels: c)
            // Attention branch: resid2 = x + o(attn(rope(q(ln1)), rope(k(ln1)), v(ln1))).
            a.dAttn.zero()
            layer.oProj.backward(dinp: a.dAttn.data, dout: a.dResid.data, inp: la.attn.data, rows: n)
            a.dq.zero(); a.dk.zero(); a.dv.zero()
            attentionBackward(dq: a.dq.data, dk: a.dk.data, dv: a.dv.data, scratch: a.attScratch.data, dout: a.dAttn.data,
                              probs: la.probs.data, q: la.q.data, k: la.k.data, v: la.v.data, shape: shape)
            ropeBackward(dx: a.dq.data, cos: a.cos.data, sin: a.sin.data, rows: n, heads: h, headDim: d)
            ropeBackward(dx: a.dk.data, cos: a.cos.data, sin: a.sin.data, rows: n, heads: g, headDim: d)
            a.dLn.zero()
            layer.qProj.backward(dinp: a.dLn.data, dout: a.dq.data, inp: la.ln1.data, rows: n)
            layer.kProj.backward(dinp: a.dLn.data, dout: a.dk.data, inp: la.ln1.data, rows: n)
            layer.vProj.backward(dinp: a.dLn.data, dout: a.dv.data, inp: la.ln1.data, rows: n)
            rmsNormBackward(dinp: a.dResid.data, dweight: layer.inputLayernorm.requiresGrad ? layer.inputLayernorm.grad.data : nil,
                            dout: a.dLn.data, inp: x.data, weight: layer.inputLayernorm.value.data,
                            rstd: la.rstd1.data, rows: n, channels: c)
        }
        if embedTokens.requiresGrad {
            lastTokens.withUnsafeBufferPointer {
                embeddingBackward(dweight: embedTokens.grad.data, dout: a.dResid.data, tokens: $0.baseAddress!,
                                  rows: n, channels: c, paddingIndex: cfg.padTokenId)
            }
        }
    }

    /// `backward` taking the gradients as tensors (shapes `[B*T, V]` and `[B*T, C]`).
    public func backward(dLogits: Tensor?, dHidden: Tensor?) {
        backward(dLogits: dLogits.map { UnsafePointer($0.data) }, dHidden: dHidden.map { UnsafePointer($0.data) })
    }

    // MARK: Causal LM loss

    /// Forward plus Hugging Face's causal-LM loss: labels are shifted inside (`labels[b, t+1]` is the
    /// target of position t, the last position has none), rows labelled -100 are ignored, and the
    /// loss is the mean over counted targets, in nats/token (side effect: caches for `backwardLoss`).
    /// - Parameters:
    ///   - input: the batch.
    ///   - labels: `[B*T]` aligned with `input.tokens` (usually the tokens themselves, -100 where ignored).
    /// - Returns: the mean loss (0 when every target is ignored).
    /// - Source: transformers `loss_utils.ForCausalLMLoss`.
    public func loss(input: LlamaInput, labels: [Int32]) -> Float {
        let b = input.batch, t = input.seqLen
        precondition(labels.count == b * t, "labels has \(labels.count) entries, expected \(b * t)")
        let out = forward(input)
        var targets = [Int32](repeating: ignoreIndex, count: b * t)
        for bi in 0..<b { for ti in 0..<(t - 1) { targets[bi * t + ti] = labels[bi * t + ti + 1] } }
        var losses = [Float](repeating: 0, count: b * t)
        let lse = acts!.logSumExp
        let (l, count) = targets.withUnsafeBufferPointer { tp in
            losses.withUnsafeMutableBufferPointer { lp in
                crossEntropyForward(losses: lp.baseAddress!, logSumExp: lse.data, logits: out.logits!.data, targets: tp.baseAddress!,
                                    rows: b * t, vocab: config.vocabSize)
            }
        }
        lossTargets = targets
        lossCount = count
        return l
    }

    /// Backward of the last `loss(input:labels:)`: adds `scale * dLoss/dθ` into every gradient.
    /// - Parameter scale: multiplier of the loss (e.g. `1 / gradientAccumulationSteps`).
    public func backwardLoss(scale: Float = 1) {
        guard let a = acts else { preconditionFailure("backwardLoss called before loss") }
        let n = a.batch * a.seqLen
        let dLogits = a.dLogits
        dLogits.zero()
        lossTargets.withUnsafeBufferPointer {
            crossEntropyBackward(dlogits: dLogits.data, logits: a.logits.data, targets: $0.baseAddress!,
                                 rows: n, vocab: config.vocabSize, dloss: scale, count: lossCount, logSumExp: a.logSumExp.data)
        }
        backward(dLogits: UnsafePointer(dLogits.data), dHidden: nil)
    }
}

// MARK: - Helpers

@inline(__always)
func withOptionalPointer<R>(_ array: [UInt8]?, _ body: (UnsafePointer<UInt8>?) -> R) -> R {
    guard let array else { return body(nil) }
    return array.withUnsafeBufferPointer { body($0.baseAddress) }
}
