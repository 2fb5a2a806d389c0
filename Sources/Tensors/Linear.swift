// Linear (matmul) kernels: y = x W^T, the Hugging Face / PyTorch `nn.Linear` layout, through sgemm.
//
// Legend: N = rows (B*T tokens), I = in_features, O = out_features.

// MARK: - Linear

/// `out[N, O] = inp[N, I] · weight[O, I]^T` (no bias; Llama's projections have none). Overwrites `out`.
/// - Parameters:
///   - out: `[N, O]`, written.
///   - inp: `[N, I]`.
///   - weight: `[O, I]` (PyTorch `nn.Linear.weight` layout).
///   - rows: N; inFeatures: I; outFeatures: O.
/// - Source: PyTorch `torch.nn.functional.linear`.
public func linearForward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                          rows: Int, inFeatures: Int, outFeatures: Int) {
    sgemm(transA: false, transB: true, m: rows, n: outFeatures, k: inFeatures, alpha: 1,
          a: inp, lda: inFeatures, b: weight, ldb: inFeatures, beta: 0, c: out, ldc: outFeatures)
}

/// Backward of `linearForward`; *adds* into `dinp` and `dweight` (either may be nil to skip it).
/// - Parameters:
///   - dinp: `[N, I]`, accumulated: `dinp += dout · weight`.
///   - dweight: `[O, I]`, accumulated: `dweight += dout^T · inp`.
///   - dout: `[N, O]`; inp: `[N, I]`; weight: `[O, I]`.
public func linearBackward(dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>?,
                           dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                           rows: Int, inFeatures: Int, outFeatures: Int) {
    if let dinp {
        sgemm(transA: false, transB: false, m: rows, n: inFeatures, k: outFeatures, alpha: 1,
              a: dout, lda: outFeatures, b: weight, ldb: inFeatures, beta: 1, c: dinp, ldc: inFeatures)
    }
    if let dweight {
        sgemm(transA: true, transB: false, m: outFeatures, n: inFeatures, k: rows, alpha: 1,
              a: dout, lda: outFeatures, b: inp, ldb: inFeatures, beta: 1, c: dweight, ldc: inFeatures)
    }
}
