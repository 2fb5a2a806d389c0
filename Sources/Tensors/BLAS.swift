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

    /// The number of threads OpenBLAS uses for the next call.
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// OpenBLAS's build configuration (`openblas_get_config()`, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH ...").
    public static var configuration: String { String(cString: openblas_get_config()) }

    /// The kernel set OpenBLAS chose for this CPU at run time (`openblas_get_corename()`, e.g. "Haswell").
    public static var coreName: String { String(cString: openblas_get_corename()) }
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
