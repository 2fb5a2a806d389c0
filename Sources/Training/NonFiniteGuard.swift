// Stops training at the first NaN or infinity, naming the step.

/// Checks a scalar (a loss, a gradient norm) for NaN/infinity.
/// - Parameters:
///   - value: the value.
///   - name: its metric name (`loss`, `grad_norm`).
///   - step: the optimizer step (0-based) it belongs to.
/// - Throws: `TrainingError.nonFinite(name:step:value:index: nil)` when `value` is NaN or infinite.
@inlinable
public func checkFinite(_ value: Double, name: String, step: Int) throws {
    if !value.isFinite { throw TrainingError.nonFinite(name: name, step: step, value: value, index: nil) }
}

/// Checks every element of a buffer (e.g. a gradient `[P]`) for NaN/infinity.
/// - Parameters:
///   - values: the elements.
///   - name: a name for the message (the tensor's HF name, e.g. `model.layers.0.mlp.up_proj.weight`).
///   - step: the optimizer step (0-based).
/// - Throws: `TrainingError.nonFinite` naming the first bad element's index.
public func checkFinite<C: Collection>(_ values: C, name: String, step: Int) throws where C.Element == Float {
    for (i, v) in values.enumerated() where !v.isFinite {
        throw TrainingError.nonFinite(name: name, step: step, value: Double(v), index: i)
    }
}
