// OpenBLAS controls and the sgemm wrapper every projection goes through.

import CBLAS

// MARK: - BLAS

/// Process-wide BLAS settings.
public enum BLAS {
    /// Sets the number of OpenBLAS threads (process-wide side effect; affects every later sgemm).
    /// - Parameter count: threads, >= 1.
    public static func setThreads(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }
}

/// `C[M, N] = alpha * op(A) * op(B) + beta * C`, row-major, through `cblas_sgemm`.
/// - Parameters:
///   - transA, transB: whether `A` (stored `[K, M]` when transposed, else `[M, K]`) and `B`
///     (stored `[N, K]` when transposed, else `[K, N]`) are transposed.
///   - lda, ldb, ldc: row strides in elements (allow strided sub-matrices, e.g. one attention head).
@inline(__always)
public func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                  beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    if m == 0 || n == 0 { return }
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
                beta, c, blasint(ldc))
}
