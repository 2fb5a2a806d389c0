// One set of compute threads for every kernel. Parallel regions run on `DispatchQueue.concurrentPerform`
// (the caller plus idle libdispatch workers, which sleep between regions); sgemm calls are partitioned
// over the same threads (see `sgemm` in BLAS.swift) while OpenBLAS itself runs single-threaded. Two thread
// pools on the same cores (ours and OpenBLAS's, whose idle threads spin on `sched_yield` for about 0.1 s
// after every threaded call) were what kept the 2-thread train step at 1.4x the 1-thread one.
//
// A region never nests: code running inside a region's worker sees `kernelThreads() == 1`, so a kernel
// called from a worker (e.g. one attention head's sgemm) runs serially in that worker.

import CBLAS
import Dispatch
import Foundation

// MARK: - Thread count

/// The process-wide compute thread count (our workers; OpenBLAS always runs one thread per call).
public enum ComputeThreads {
    /// The default count: the environment variable `RLHF_NUM_THREADS` when it is a positive integer,
    /// otherwise the number of active processors.
    public static let defaultCount: Int = {
        if let s = ProcessInfo.processInfo.environment["RLHF_NUM_THREADS"], let n = Int(s.trimmingCharacters(in: .whitespaces)), n > 0 {
            return n
        }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    nonisolated(unsafe) private static var value: Int = {
        openblas_set_num_threads(1)  // OpenBLAS never starts its own threads: we partition the sgemm calls.
        return defaultCount
    }()

    /// The current count (>= 1). Results are bit-reproducible at a fixed count; different counts differ
    /// only by floating-point summation order.
    public static var count: Int { value }

    /// Sets the count (process-wide side effect: every later kernel and sgemm uses up to `count` threads).
    /// Call it between steps, not while kernels run.
    /// - Parameter count: threads; values below 1 are taken as 1.
    public static func set(_ count: Int) {
        _ = value  // run the initialiser (OpenBLAS to one thread) first
        value = max(1, count)
    }
}

// MARK: - Regions

private let regionKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key, nil)
    return key
}()

private let regionMarker = UnsafeMutableRawPointer(bitPattern: 1)!

/// Threads a parallel region started on the current thread may use: `ComputeThreads.count`, or 1 on a
/// thread that is already a region's worker (regions do not nest: no oversubscription).
public func kernelThreads() -> Int {
    if pthread_getspecific(regionKey) != nil { return 1 }
    return ComputeThreads.count
}

/// Runs `body(w)` for every `w` in `0..<workers` concurrently (the caller runs one of them), each
/// marked as a region worker for the duration; returns when all finished.
/// - Parameters:
///   - workers: > 1 (use a plain call for one).
///   - body: must only write memory that worker `w` owns.
public func runParallelRegion(_ workers: Int, _ body: (Int) -> Void) {
    if RegionProfile.enabled { return RegionProfile.run(workers, body) }
    DispatchQueue.concurrentPerform(iterations: workers) { w in
        let previous = pthread_getspecific(regionKey)
        pthread_setspecific(regionKey, regionMarker)
        body(w)
        pthread_setspecific(regionKey, previous)
    }
}

// MARK: - Profile

/// Diagnostic (environment `RLHF_PROFILE_REGIONS=1`): per-thread CPU time inside parallel regions, to
/// estimate the step time on an idle machine from a loaded one: the caller's CPU time outside regions
/// plus, per region, the slowest worker's CPU time (thread CPU clocks do not count time spent preempted).
public enum RegionProfile {
    /// Whether regions are profiled (read once from `RLHF_PROFILE_REGIONS`).
    public static let enabled = ProcessInfo.processInfo.environment["RLHF_PROFILE_REGIONS"] == "1"
    private static let lock = NSLock()
    nonisolated(unsafe) private static var criticalSeconds = 0.0
    nonisolated(unsafe) private static var callerSeconds = 0.0
    nonisolated(unsafe) private static var workSeconds = 0.0
    nonisolated(unsafe) private static var regions = 0

    /// CPU seconds of the calling thread (`CLOCK_THREAD_CPUTIME_ID`).
    public static func threadCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Clears the counters.
    public static func reset() {
        lock.withLock { criticalSeconds = 0; callerSeconds = 0; workSeconds = 0; regions = 0 }
    }

    /// `(regions, sum over regions of the slowest worker's CPU s, the calling thread's CPU s inside
    /// regions, all workers' CPU s inside regions)` since `reset()`.
    public static func snapshot() -> (regions: Int, critical: Double, caller: Double, work: Double) {
        lock.withLock { (regions, criticalSeconds, callerSeconds, workSeconds) }
    }

    static func run(_ workers: Int, _ body: (Int) -> Void) {
        let callerStart = threadCPUSeconds()
        var times = [Double](repeating: 0, count: workers)
        times.withUnsafeMutableBufferPointer { tp in
            let t = tp.baseAddress!
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let previous = pthread_getspecific(regionKey)
                pthread_setspecific(regionKey, regionMarker)
                let start = threadCPUSeconds()
                body(w)
                t[w] = threadCPUSeconds() - start
                pthread_setspecific(regionKey, previous)
            }
        }
        let caller = threadCPUSeconds() - callerStart
        lock.withLock {
            regions += 1
            criticalSeconds += times.max() ?? 0
            callerSeconds += caller
            workSeconds += times.reduce(0, +)
        }
    }
}

// MARK: - Parallel loops

/// Calls `body(range)` on disjoint contiguous ranges covering `0..<count`, on up to `kernelThreads()`
/// threads at once; serial when `count < 2 * minPerThread`. The split depends only on `count` and the
/// thread count, so results are reproducible at a fixed thread count.
/// - Parameters:
///   - count: total items.
///   - minPerThread: the smallest share worth a thread (items).
///   - body: must only write what its range owns.
public func parallelRanges(_ count: Int, minPerThread: Int, _ body: (Range<Int>) -> Void) {
    let workers = min(kernelThreads(), count / max(1, minPerThread))
    if workers <= 1 {
        if count > 0 { body(0..<count) }
        return
    }
    let chunk = (count + workers - 1) / workers
    runParallelRegion(workers) { w in
        let lo = w * chunk, hi = min(count, lo + chunk)
        if lo < hi { body(lo..<hi) }
    }
}

/// Runs `body(w, W)` for every worker `w` in `0..<W`, W = min(`kernelThreads()`, work / minPerThread)
/// (at least 1), in one region; the body picks its own share (e.g. the w-th part of every tensor of a
/// list, so a whole optimiser step is one region instead of one per tensor).
/// - Parameters:
///   - work: total items, to size W.
///   - minPerThread: the smallest share worth a thread (items).
///   - body: `(w, W)`; must only write what share w owns.
public func parallelShares(work: Int, minPerThread: Int, _ body: (Int, Int) -> Void) {
    let workers = min(kernelThreads(), work / max(1, minPerThread))
    if workers <= 1 { body(0, 1); return }
    runParallelRegion(workers) { w in body(w, workers) }
}

/// Runs `body(worker, item)` for every item in `0..<items`, worker `w` taking items `w, w+W, ...`
/// (W = min(`kernelThreads()`, items)). Kernels called inside (e.g. sgemm) run serially in their worker.
/// Used where many small independent sgemm calls (one per attention head) beat one threaded call each.
/// - Parameters:
///   - items: independent work items.
///   - body: `(worker index in 0..<W, item)`; items of different workers must write disjoint memory.
public func parallelItems(_ items: Int, _ body: (Int, Int) -> Void) {
    let workers = min(kernelThreads(), items)
    if workers <= 1 {
        for i in 0..<items { body(0, i) }
        return
    }
    runParallelRegion(workers) { w in
        var i = w
        while i < items { body(w, i); i += workers }
    }
}
