// Global-norm gradient clipping, as torch.nn.utils.clip_grad_norm_.

import Foundation
import Tensors

// MARK: - Gradient norm

/// The global L2 norm of the gradients of the parameters with `requiresGrad` (accumulated in Double).
/// - Parameter parameters: the parameters.
/// - Returns: `sqrt(sum over parameters and elements of grad²)`.
public func gradientNorm(_ parameters: [Parameter]) -> Float {
    var total = 0.0
    for p in parameters where p.requiresGrad {
        let g = p.grad.data
        var s: Float = 0
        var acc = 0.0
        for i in 0..<p.count {
            s += g[i] * g[i]
            if i & 1023 == 1023 { acc += Double(s); s = 0 }
        }
        total += acc + Double(s)
    }
    return Float(total.squareRoot())
}

/// Scales all gradients so their global norm is at most `maxNorm` (side effect: mutates `grad`), as
/// `torch.nn.utils.clip_grad_norm_(parameters, max_norm)`: `coef = min(1, maxNorm / (norm + 1e-6))`.
/// - Parameters:
///   - parameters: the parameters (frozen ones are ignored).
///   - maxNorm: the largest allowed global L2 norm (> 0).
/// - Returns: the norm *before* clipping (HF Trainer's `grad_norm`). When it is not finite, the gradients
///   are left unchanged (PyTorch would fill them with NaN): the caller must stop or skip the step.
/// - Source: PyTorch `torch/nn/utils/clip_grad.py`.
@discardableResult
public func clipGradientNorm(_ parameters: [Parameter], maxNorm: Float) -> Float {
    let norm = gradientNorm(parameters)
    guard norm.isFinite else { return norm }
    let coef = min(1, maxNorm / (norm + 1e-6))
    if coef < 1 {
        for p in parameters where p.requiresGrad {
            let g = p.grad.data
            for i in 0..<p.count { g[i] *= coef }
        }
    }
    return norm
}
