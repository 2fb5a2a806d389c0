// Durable file-system helpers: write to a temporary name, fsync, rename (nothing stored is lost).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

// MARK: - Errors from errno

@inline(__always) func errnoText() -> String { String(cString: strerror(errno)) }

// MARK: - fsync

/// Flushes one file or directory to stable storage (`open` + `fsync` + `close`).
/// - Parameter path: a file or directory path.
/// - Throws: `TrainingError.io` when it cannot be opened or synced.
public func fsyncPath(_ path: String) throws {
    var isDir: ObjCBool = false
    _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
    #if canImport(Glibc)
    let flags = isDir.boolValue ? (O_RDONLY | O_DIRECTORY) : O_RDONLY
    #else
    let flags = O_RDONLY
    #endif
    let fd = open(path, flags)
    guard fd >= 0 else { throw TrainingError.io(operation: "open", path: path, reason: errnoText()) }
    defer { close(fd) }
    guard fsync(fd) == 0 else { throw TrainingError.io(operation: "fsync", path: path, reason: errnoText()) }
}

/// Flushes every file and directory under `root` (depth first), then `root` itself.
/// - Throws: `TrainingError.io` on the first failure.
public func fsyncTree(_ root: URL) throws {
    let fm = FileManager.default
    if let items = fm.enumerator(at: root, includingPropertiesForKeys: nil) {
        for case let url as URL in items { try fsyncPath(url.path) }
    }
    try fsyncPath(root.path)
}

// MARK: - Atomic file write

/// Writes `data` to `url` atomically and durably: a temporary file beside it, `fsync`, `rename`,
/// then `fsync` of the parent directory. A crash leaves either the old file or the new one.
/// - Throws: `TrainingError.io` when writing, syncing or renaming fails.
public func writeFileAtomically(_ data: Data, to url: URL) throws {
    let tmp = url.deletingLastPathComponent()
        .appendingPathComponent(".\(url.lastPathComponent).tmp-\(UInt32.random(in: 0...UInt32.max))")
    do {
        try data.write(to: tmp)
    } catch {
        throw TrainingError.io(operation: "write", path: tmp.path, reason: "\(error)")
    }
    do {
        try fsyncPath(tmp.path)
        try renameReplacing(from: tmp, to: url)
        try fsyncPath(url.deletingLastPathComponent().path)
    } catch {
        try? FileManager.default.removeItem(at: tmp)
        throw error
    }
}

/// Renames `from` to `to`, replacing a file at `to` in one `rename(2)`.
/// - Throws: `TrainingError.io` when `rename` fails.
func renameReplacing(from: URL, to: URL) throws {
    guard rename(from.path, to.path) == 0 else {
        throw TrainingError.io(operation: "rename to \(to.path)", path: from.path, reason: errnoText())
    }
}
