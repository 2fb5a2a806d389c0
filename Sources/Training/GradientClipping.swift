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
    // Every chunk of every parameter in one flat list, so one parallel region covers them all.
    var chunkParameter: [Int] = [], chunkStart: [Int] = []
    let trained = parameters.filter(\.requiresGrad)
    for (pi, p) in trained.enumerated() {
        var lo = 0
        while lo < p.count { chunkParameter.append(pi); chunkStart.append(lo); lo += gradientNormChunk }
    }
    let grads = trained.map { UnsafePointer($0.grad.data) }, counts = trained.map(\.count)
    var sums = [Double](repeating: 0, count: chunkStart.count)
    sums.withUnsafeMutableBufferPointer { out in
        let sumsBase = out.baseAddress!
        parallelRanges(chunkStart.count, minPerThread: 8) { range in
            for ci in range {
                let g = grads[chunkParameter[ci]]
                let lo = chunkStart[ci], hi = min(counts[chunkParameter[ci]], lo + gradientNormChunk)
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
    var total = 0.0
    for s in sums { total += s }
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
        let grads = parameters.filter(\.requiresGrad).map { ($0.grad.data, $0.count) }
        parallelShares(work: grads.reduce(0) { $0 + $1.1 }, minPerThread: 32_768) { w, workers in
            for (g, n) in grads {
                let share = (n + workers - 1) / workers
                let lo = min(n, w * share), hi = min(n, lo + share)
                for i in lo..<hi { g[i] *= coef }
            }
        }
    }
    return norm
}
