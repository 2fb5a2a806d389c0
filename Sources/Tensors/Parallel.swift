// Splitting non-BLAS loops over the threads the user gave BLAS (never more: no oversubscription).

import Dispatch
import Foundation

// MARK: - Parallel loops

/// Threads the elementwise kernels may use: the OpenBLAS thread count (`BLAS.setThreads`), so the
/// process never runs more busy threads than the user asked for. Kernels run between sgemm calls, when
/// OpenBLAS's own threads are idle.
@inlinable
public func kernelThreads() -> Int { max(1, BLAS.threads) }

/// Calls `body(range)` on disjoint contiguous ranges covering `0..<count`, on up to `kernelThreads()`
/// threads at once (`DispatchQueue.concurrentPerform`); serial when `count < 2 * minPerThread`.
/// Call it only where no sgemm runs at the same time (between kernels), so threads never exceed the
/// count the user chose.
/// - Parameters:
///   - count: total items.
///   - minPerThread: the smallest share worth a thread (items).
///   - body: must only write what its range owns.
@inlinable
public func parallelRanges(_ count: Int, minPerThread: Int, _ body: (Range<Int>) -> Void) {
    let workers = min(kernelThreads(), count / max(1, minPerThread))
    if workers <= 1 {
        if count > 0 { body(0..<count) }
        return
    }
    let chunk = (count + workers - 1) / workers
    DispatchQueue.concurrentPerform(iterations: workers) { w in
        let lo = w * chunk, hi = min(count, lo + chunk)
        if lo < hi { body(lo..<hi) }
    }
}

/// Runs `body(worker, item)` for every item in `0..<items`, worker `w` taking items `w, w+W, ...`, with
/// OpenBLAS set to one thread meanwhile (restored after) so that each worker's small sgemm calls run in
/// that worker only. Used where many small independent sgemm calls (one per attention head) beat one
/// threaded call each.
/// - Parameters:
///   - items: independent work items.
///   - body: `(worker index in 0..<W, item)`; items of different workers must write disjoint memory.
/// - Returns: nothing; W = min(`BLAS.threads`, items).
func parallelItemsWithSerialBLAS(_ items: Int, _ body: (Int, Int) -> Void) {
    let threads = kernelThreads()
    let workers = min(threads, items)
    if threads > 1 { BLAS.setThreads(1) }
    defer { if threads > 1 { BLAS.setThreads(threads) } }
    if workers <= 1 {
        for i in 0..<items { body(0, i) }
        return
    }
    DispatchQueue.concurrentPerform(iterations: workers) { w in
        var i = w
        while i < items { body(w, i); i += workers }
    }
}
