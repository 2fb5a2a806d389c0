// Atomic checkpoint directories: write under a temporary name, fsync, rename into place.
import Foundation

/// Writes and finds checkpoint directories so that a crash (even `kill -9`) at any moment leaves
/// the previous complete checkpoint readable.
///
/// `write(to:)` protocol: fill `DIR.tmp-XXXX`; fsync every file and the directory; if `DIR` exists,
/// rename it to `DIR.old-XXXX`; rename `DIR.tmp-XXXX` to `DIR`; fsync the parent; remove
/// `DIR.old-XXXX`. Between the two renames only `DIR.old-XXXX` exists: `recover(_:)` puts it back.
public enum CheckpointDirectory {
    /// Prefix of step-numbered checkpoints (`checkpoint-1200`), as the HF Trainer names them.
    public static let stepPrefix = "checkpoint-"

    /// Creates (or atomically replaces) directory `dir` with what `fill` writes into a temporary directory.
    /// - Parameters:
    ///   - dir: the final directory.
    ///   - fill: writes the checkpoint's files into the URL it is given (a fresh, empty directory).
    /// - Throws: `TrainingError.io` on a file-system failure; any error of `fill`. On error the
    ///   temporary directory is removed and `dir` is unchanged.
    public static func write(to dir: URL, _ fill: (URL) throws -> Void) throws {
        let fm = FileManager.default
        let parent = dir.deletingLastPathComponent()
        let tag = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let tmp = parent.appendingPathComponent("\(dir.lastPathComponent).tmp-\(tag)")
        let old = parent.appendingPathComponent("\(dir.lastPathComponent).old-\(tag)")
        do {
            try fm.createDirectory(at: tmp, withIntermediateDirectories: true)
        } catch {
            throw TrainingError.io(operation: "create directory", path: tmp.path, reason: "\(error)")
        }
        do {
            try fill(tmp)
            try fsyncTree(tmp)
            let existed = fm.fileExists(atPath: dir.path)
            if existed { try renameReplacing(from: dir, to: old) }
            do {
                try renameReplacing(from: tmp, to: dir)
            } catch {
                if existed { try? renameReplacing(from: old, to: dir) }
                throw error
            }
            try fsyncPath(parent.path)
            if existed { try? fm.removeItem(at: old) }
        } catch {
            try? fm.removeItem(at: tmp)
            throw error
        }
    }

    /// Repairs what an interrupted `write(to: dir)` may leave: if `dir` is missing and a complete
    /// `dir.old-*` exists, renames it back; removes every `dir.tmp-*` (incomplete by construction)
    /// and, when `dir` exists, every `dir.old-*`.
    /// - Throws: `TrainingError.io` when a rename fails.
    public static func recover(_ dir: URL) throws {
        let fm = FileManager.default
        let parent = dir.deletingLastPathComponent()
        let name = dir.lastPathComponent
        let entries = (try? fm.contentsOfDirectory(atPath: parent.path)) ?? []
        for e in entries where e.hasPrefix("\(name).tmp-") {
            try? fm.removeItem(at: parent.appendingPathComponent(e))
        }
        let olds = entries.filter { $0.hasPrefix("\(name).old-") }.sorted()
        if !fm.fileExists(atPath: dir.path), let last = olds.last {
            try renameReplacing(from: parent.appendingPathComponent(last), to: dir)
        }
        for e in olds where fm.fileExists(atPath: parent.appendingPathComponent(e).path) {
            try? fm.removeItem(at: parent.appendingPathComponent(e))
        }
    }

    /// URL of step `step`'s checkpoint under `root` (`root/checkpoint-STEP`).
    public static func url(root: URL, step: Int) -> URL {
        root.appendingPathComponent("\(stepPrefix)\(step)")
    }

    /// Complete step checkpoints under `root` (`checkpoint-N` directories; temporaries ignored),
    /// sorted by step ascending. Empty when `root` does not exist.
    public static func steps(in root: URL) -> [(step: Int, url: URL)] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return entries.compactMap { e -> (Int, URL)? in
            guard e.hasPrefix(stepPrefix), let n = Int(e.dropFirst(stepPrefix.count)), n >= 0 else { return nil }
            return (n, root.appendingPathComponent(e))
        }.sorted { $0.0 < $1.0 }
    }

    /// The newest complete step checkpoint under `root`, or nil (resume point).
    public static func latest(in root: URL) -> (step: Int, url: URL)? { steps(in: root).last }

    /// Deletes all but the newest `keep` step checkpoints under `root` (HF `save_total_limit`).
    /// Call after a new checkpoint is complete, so the previous one survives until then.
    /// - Throws: `TrainingError.invalidConfiguration` when `keep < 1`; `TrainingError.io` when a removal fails.
    public static func prune(in root: URL, keep: Int) throws {
        guard keep >= 1 else { throw TrainingError.invalidConfiguration(field: "save_total_limit", reason: "must be >= 1, got \(keep)") }
        for c in steps(in: root).dropLast(keep) {
            do { try FileManager.default.removeItem(at: c.url) } catch {
                throw TrainingError.io(operation: "remove", path: c.url.path, reason: "\(error)")
            }
        }
    }
}
