// A named trainable weight with its gradient: the unit the optimiser, the checkpoint writer and LoRA see.

// MARK: - Parameter

/// A named weight tensor and its gradient accumulator.
///
/// `grad` has the same shape as `value`; backward passes *add* into it and `zeroGradient()` clears it
/// (so calling backward several times accumulates, as in PyTorch). A frozen parameter
/// (`requiresGrad == false`) is skipped by backward passes (its `grad` stays zero) and by the optimiser.
/// `weightDecay` says whether AdamW applies decoupled weight decay to it (by default: linear weights
/// yes; norms and embeddings no).
public final class Parameter: @unchecked Sendable {
    /// Hugging Face name, e.g. `model.layers.0.self_attn.q_proj.weight`.
    public let name: String
    /// The weight, e.g. `[out, in]` for a linear layer.
    public let value: Tensor
    /// Gradient of the loss with respect to `value`, same shape; accumulated by backward.
    public let grad: Tensor
    /// When false, backward passes skip this parameter and the optimiser leaves it unchanged.
    public var requiresGrad: Bool
    /// When true, AdamW applies decoupled weight decay to this parameter.
    public var weightDecay: Bool

    /// Creates a zero-filled parameter and a zero gradient.
    /// - Parameters:
    ///   - name: Hugging Face tensor name.
    ///   - shape: dimensions of the weight.
    ///   - requiresGrad: whether backward computes its gradient.
    ///   - weightDecay: whether AdamW decays it.
    public init(name: String, shape: [Int], requiresGrad: Bool = true, weightDecay: Bool) {
        self.name = name
        self.value = Tensor(shape: shape)
        self.grad = Tensor(shape: shape)
        self.requiresGrad = requiresGrad
        self.weightDecay = weightDecay
    }

    /// Dimensions of `value` and `grad`.
    public var shape: [Int] { value.shape }
    /// Number of elements.
    public var count: Int { value.count }

    /// Sets `grad` to zero.
    public func zeroGradient() { grad.zero() }
}
