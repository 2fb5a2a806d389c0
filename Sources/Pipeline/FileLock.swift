import Foundation

// MARK: - File locks

/// An exclusive `flock(2)` on a file: held by at most one process (or one holder in this process) at a
/// time, released by `unlock()` or automatically by the kernel when the process dies (even by `kill -9`).
/// The orchestrator holds one per cache key while a stage runs, so two `rlhf run` never train the same stage.
public final class FileLock: @unchecked Sendable {
    public let url: URL
    private var fd: Int32 = -1

    public init(_ url: URL) { self.url = url }

    /// Tries to take the lock without waiting.
    /// - Returns: true when acquired.
    /// - Throws: `PipelineError.database` when the lock file cannot be opened.
    public func tryLock() throws -> Bool {
        if fd < 0 {
            fd = open(url.path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw PipelineError.database(path: url.path, message: "cannot open lock file: \(String(cString: strerror(errno)))",
                                             fix: "check the permissions of the work directory")
            }
        }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { return true }
        return false
    }

    /// Waits for the lock, polling every `interval` seconds; calls `onWait` once if it has to wait.
    /// - Throws: `CancellationError` when the task is cancelled while waiting.
    public func lock(interval: Double = 0.1, onWait: () -> Void = {}) async throws {
        var waited = false
        while !(try tryLock()) {
            if !waited { onWait(); waited = true }
            try Task.checkCancellation()
            try await Task.sleep(nanoseconds: UInt64(interval * 1e9))
        }
    }

    /// Releases the lock (idempotent).
    public func unlock() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { unlock() }
}
