import Foundation

/// Writes an output (a file or a directory) under a temporary name beside it, then renames it into place.
///
/// Nothing is ever half-written at the output path: a failure removes the temporary; an existing output
/// is an error unless `force`, in which case it is moved aside, replaced, and only then deleted.
public struct AtomicOutput {
    /// The final path.
    public let destination: URL
    /// The temporary path to write to (same directory, so the rename is atomic).
    public let temporary: URL
    private let force: Bool

    /// Reserves a temporary path beside `destination`.
    /// - Throws: `ExportError.outputExists` when `destination` exists and `force` is false;
    ///   `.writeFailed` when the parent directory does not exist.
    public init(destination: URL, force: Bool) throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: destination.path) && !force { throw ExportError.outputExists(path: destination.path) }
        let parent = destination.deletingLastPathComponent()
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: parent.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ExportError.writeFailed(path: destination.path, detail: "the parent directory \(parent.path) does not exist")
        }
        self.destination = destination
        self.force = force
        temporary = parent.appendingPathComponent(".\(destination.lastPathComponent).tmp-\(UUID().uuidString.prefix(8))")
    }

    /// Runs `body` with the temporary path and renames the result into place; on error removes the temporary.
    /// - Parameter body: writes the output at the given path (a file, or a directory it creates).
    /// - Throws: whatever `body` throws; `ExportError.writeFailed` when the rename fails;
    ///   `.outputExists` when the destination appeared meanwhile and `force` is false.
    public func commit(_ body: (URL) throws -> Void) throws {
        let fm = FileManager.default
        do {
            try body(temporary)
        } catch {
            try? fm.removeItem(at: temporary)
            throw error
        }
        var aside: URL?
        if fm.fileExists(atPath: destination.path) {
            guard force else { try? fm.removeItem(at: temporary); throw ExportError.outputExists(path: destination.path) }
            let old = destination.deletingLastPathComponent().appendingPathComponent(".\(destination.lastPathComponent).old-\(UUID().uuidString.prefix(8))")
            do { try fm.moveItem(at: destination, to: old) } catch {
                try? fm.removeItem(at: temporary)
                throw ExportError.writeFailed(path: destination.path, detail: "cannot move the existing output aside: \(error.localizedDescription)")
            }
            aside = old
        }
        do {
            try fm.moveItem(at: temporary, to: destination)
        } catch {
            if let aside { try? fm.moveItem(at: aside, to: destination) }
            try? fm.removeItem(at: temporary)
            throw ExportError.writeFailed(path: destination.path, detail: "cannot rename the finished output into place: \(error.localizedDescription)")
        }
        if let aside { try? fm.removeItem(at: aside) }
    }
}
