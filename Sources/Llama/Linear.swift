// A bias-free linear layer (`nn.Linear(bias=False)`) that can carry an adapter (the LoRA seam).

import Tensors

// MARK: - Adapter seam

/// Something added to a linear layer's output, e.g. LoRA's `(alpha / r) · B A x` (PEFT semantics).
///
/// Contract: `forward` *adds* its contribution into `out` and may cache what its backward needs (it is
/// called once per model forward, with the same `inp` that `backward` later receives); `backward`
/// *adds* into `dinp` and into its own parameters' gradients. The base weight stays untouched, so
/// disabling the adapter (`isEnabled = false`) gives the base model (PPO's reference policy).
public protocol LinearAdapter: AnyObject {
    /// The adapter's trainable parameters (named as PEFT names them).
    var parameters: [Parameter] { get }
    /// When false, the layer behaves as if the adapter were absent (forward and backward).
    var isEnabled: Bool { get set }
    /// Adds the adapter's output. `out`: `[N, O]` (accumulated); `inp`: `[N, I]`.
    func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, rows: Int)
    /// Backward of `forward`: adds into its parameters' gradients and, when non-nil, into `dinp`.
    /// `dinp`: `[N, I]` (accumulated) or nil; `dout`: `[N, O]`; `inp`: `[N, I]`.
    func backward(dinp: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, rows: Int)
}

// MARK: - Linear

/// `y[N, O] = x[N, I] · W[O, I]^T (+ adapter(x))`, with `W` a `Parameter` named as Hugging Face names it.
public final class Linear {
    /// The weight `[O, I]`, e.g. `model.layers.0.self_attn.q_proj.weight`.
    public let weight: Parameter
    /// I.
    public let inFeatures: Int
    /// O.
    public let outFeatures: Int
    /// Optional adapter added to the output (nil: a plain linear layer).
    public var adapter: LinearAdapter?

    /// Creates a zero weight `[outFeatures, inFeatures]` called `name` (decayed by AdamW by default).
    public init(name: String, inFeatures: Int, outFeatures: Int, weightDecay: Bool = true) {
        self.weight = Parameter(name: name, shape: [outFeatures, inFeatures], weightDecay: weightDecay)
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
    }

    /// Writes `out[N, O] = inp[N, I] · W^T` and adds the enabled adapter's output.
    public func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, rows: Int) {
        linearForward(out: out, inp: inp, weight: weight.value.data, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
        if let adapter, adapter.isEnabled { adapter.forward(out: out, inp: inp, rows: rows) }
    }

    /// Adds `dout · W` into `dinp` (when non-nil) and `dout^T · inp` into `W.grad` (when `requiresGrad`),
    /// then runs the enabled adapter's backward.
    public func backward(dinp: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, rows: Int) {
        linearBackward(dinp: dinp, dweight: weight.requiresGrad ? weight.grad.data : nil, dout: dout, inp: inp,
                       weight: weight.value.data, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
        if let adapter, adapter.isEnabled { adapter.backward(dinp: dinp, dout: dout, inp: inp, rows: rows) }
    }
}
