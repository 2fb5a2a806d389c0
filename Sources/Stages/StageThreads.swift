// The compute thread count of `rlhf run --threads` reaching the numeric kernels.

import Pipeline
import Tensors

// MARK: - Threads

extension StageContext {
    /// Sets the numeric kernels' thread count to `threads` (process-wide side effect: `BLAS.setThreads`).
    /// Stages that train or generate call it before their first kernel. The thread count is an execution
    /// setting: it is not in the cache key, and the kernels give bit-identical results at any count.
    func applyComputeThreads() {
        BLAS.setThreads(threads)
    }
}
