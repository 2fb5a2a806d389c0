// OpenBLAS controls and the sgemm wrapper every matrix product goes through.

import CBLAS

// MARK: - BLAS

/// Process-wide BLAS settings.
public enum BLAS {
    /// Sets the compute thread count (`ComputeThreads.set`; process-wide side effect): every later
    /// sgemm is partitioned over up to `count` of our threads, each calling OpenBLAS single-threaded, and
    /// the elementwise kernels use the same threads. Kept under this name for the callers that predate
    /// `ComputeThreads`.
    /// - Parameter count: threads, >= 1.
    public static func setThreads(_ count: Int) { ComputeThreads.set(count) }

    /// The compute thread count (`ComputeThreads.count`).
    public static var threads: Int { ComputeThreads.count }

    /// OpenBLAS's build configuration (`openblas_get_config()`, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH ...").
    public static var configuration: String { String(cString: openblas_get_config()) }

    /// The kernel set OpenBLAS chose for this CPU at run time (`openblas_get_corename()`, e.g. "Haswell").
    public static var coreName: String { String(cString: openblas_get_corename()) }
}

// MARK: - sgemm

/// Smallest share of a split product per thread, in multiply-adds (about 45 µs of one core). Also keeps
/// every split call far above OpenBLAS's small-matrix path (taken below 100³ multiply-adds), so a split
/// call and the unsplit one run the same kernels.
let parallelSgemmMinimum = 1 << 21

/// Rows (or columns) per thread are rounded up to a multiple of this (OpenBLAS's register tiles).
let sgemmSplitAlignment = 16

/// `C[M, N] = alpha * op(A) * op(B) + beta * C`, row-major, through `cblas_sgemm`.
///
/// Threading: called outside a parallel region, a product of at least 2 × `parallelSgemmMinimum`
/// multiply-adds is split over up to `kernelThreads()` threads along the larger of M and N (contiguous
/// blocks, a multiple of 16 rows or columns each, at least `parallelSgemmMinimum` multiply-adds each); each
/// block is one single-threaded `cblas_sgemm`. Every element of C is still computed by one call over the
/// whole K with the same K blocking, so the split changes no sum: with OpenBLAS 0.3.21 the result is
/// bit-identical at any thread count (`ThreadCountInvarianceTests` checks it).
/// - Parameters:
///   - transA, transB: whether `A` (stored `[K, M]` when transposed, else `[M, K]`) and `B`
///     (stored `[N, K]` when transposed, else `[K, N]`) are transposed.
///   - lda, ldb, ldc: row strides in elements (allow strided sub-matrices, e.g. one attention head).
public func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                  beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    if m == 0 || n == 0 { return }
    let threads = kernelThreads()
    let splitRows = m >= n
    let dim = splitRows ? m : n
    let parts = threads > 1 ? min(threads, dim / (2 * sgemmSplitAlignment), m * n * k / parallelSgemmMinimum) : 1
    if parts <= 1 {
        if threads > 1 && m * n * k >= openBLASThreadedMinimum && openBLASSplitsExactly(m, n, k) {
            // Mid-size (decoding a batch): OpenBLAS's own threads, whose wake-up is cheaper than a region's.
            withOpenBLASThreads(threads) {
                serialSgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                            beta: beta, c: c, ldc: ldc)
            }
        } else {
            serialSgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                        beta: beta, c: c, ldc: ldc)
        }
        return
    }
    var chunk = (dim + parts - 1) / parts
    chunk = (chunk + sgemmSplitAlignment - 1) / sgemmSplitAlignment * sgemmSplitAlignment
    runParallelRegion(parts) { w in
        let lo = w * chunk, hi = min(dim, lo + chunk)
        guard lo < hi else { return }
        if splitRows {
            // Rows lo..<hi of C and of op(A).
            serialSgemm(transA: transA, transB: transB, m: hi - lo, n: n, k: k, alpha: alpha,
                        a: transA ? a + lo : a + lo * lda, lda: lda, b: b, ldb: ldb, beta: beta, c: c + lo * ldc, ldc: ldc)
        } else {
            // Columns lo..<hi of C and of op(B).
            serialSgemm(transA: transA, transB: transB, m: m, n: hi - lo, k: k, alpha: alpha, a: a, lda: lda,
                        b: transB ? b + lo * ldb : b + lo, ldb: ldb, beta: beta, c: c + lo, ldc: ldc)
        }
    }
}

/// `y[M] = A[M, N] · x[N]` (row-major A, `lda` its row stride; beta 0), through `cblas_sgemv`: one token
/// of decoding. Outside a parallel region, with more than one compute thread and M, N multiples of 16,
/// OpenBLAS runs it on its own threads (their wake-up costs less than the product; a region's costs
/// more); otherwise it runs on the calling thread. Either way the bits do not depend on the thread count.
/// - Parameters:
///   - y: `[M]`, written; a: `[M, N]`; x: `[N]`.
public func sgemv(m: Int, n: Int, a: UnsafePointer<Float>, lda: Int, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
    if m == 0 { return }
    let threads = kernelThreads()
    let call = {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, blasint(m), blasint(n), 1, a, blasint(lda), x, 1, 0, y, 1)
    }
    if threads > 1 && openBLASSplitsExactly(m, n, 16) { withOpenBLASThreads(threads, call) } else { call() }
}

/// Whether OpenBLAS's own threading gives the one-thread bits for these sizes: all multiples of 16 (its
/// kernels' tiles; checked by `ThreadCountInvarianceTests`; a 333 × 77 sgemv differs in the last bit).
@inline(__always)
func openBLASSplitsExactly(_ m: Int, _ n: Int, _ k: Int) -> Bool {
    (m | n | k) & 15 == 0
}

/// Below this many multiply-adds an unsplit sgemm stays on one thread (OpenBLAS's own threshold,
/// `SMP_THRESHOLD_MIN · GEMM_MULTITHREAD_THRESHOLD`).
let openBLASThreadedMinimum = 65_536 * 4

/// Runs `body` with OpenBLAS allowed `threads` threads, then back to one (our default: see
/// `ComputeThreads`). Its idle threads spin for a while after a threaded call, so this is only for the
/// small products of decoding, where no long parallel region follows.
@inline(__always)
func withOpenBLASThreads(_ threads: Int, _ body: () -> Void) {
    openblas_set_num_threads(Int32(threads))
    body()
    openblas_set_num_threads(1)
}

/// One `cblas_sgemm` call on the current thread (OpenBLAS is kept at one thread by `ComputeThreads`).
@inline(__always)
func serialSgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                 a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                 beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
                beta, c, blasint(ldc))
}
