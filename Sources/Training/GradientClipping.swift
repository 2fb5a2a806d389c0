// Global-norm gradient clipping, as torch.nn.utils.clip_grad_norm_.

import Foundation
import Tensors

// MARK: - Gradient norm

/// The global L2 norm of the gradients of the parameters with `requiresGrad` (accumulated in Double).
///
/// Each parameter is summed in fixed chunks of `gradientNormChunk` elements (16 Float lanes per chunk,
/// then the lanes and the chunks in order in Double); chunks are spread over the compute threads, and
/// the chunking does not depend on the thread count, so the norm is the same at any thread count.
/// - Parameter parameters: the parameters.
/// - Returns: `sqrt(sum over parameters and elements of grad²)`.
public func gradientNorm(_ parameters: [Parameter]) -> Float {
    var total = 0.0
    for p in parameters where p.requiresGrad {
        let g = p.grad.data, count = p.count
        let chunks = (count + gradientNormChunk - 1) / gradientNormChunk
        var sums = [Double](repeating: 0, count: chunks)
        sums.withUnsafeMutableBufferPointer { out in
            let sumsBase = out.baseAddress!
            parallelRanges(chunks, minPerThread: 8) { range in
                for ci in range {
                    let lo = ci * gradientNormChunk, hi = min(count, lo + gradientNormChunk)
                    var acc = SIMD16<Float>(repeating: 0)
                    var i = lo
                    while i + 16 <= hi { let x = loadLanes(g + i); acc = acc + x * x; i += 16 }
                    var s = 0.0
                    for l in 0..<16 { s += Double(acc[l]) }
                    while i < hi { s += Double(g[i] * g[i]); i += 1 }
                    sumsBase[ci] = s
                }
            }
        }
        for s in sums { total += s }
    }
    return Float(total.squareRoot())
}

/// Elements per partial sum of `gradientNorm` (fixed: the norm must not depend on the thread count).
let gradientNormChunk = 4096

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
            parallelRanges(p.count, minPerThread: 32_768) { r in for i in r { g[i] *= coef } }
        }
    }
    return norm
}
