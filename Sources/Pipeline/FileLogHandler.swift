import Foundation
import Logging

// MARK: - File log handler

/// A swift-log handler appending `time level label: message key=value` lines to a file (a stage's log).
public struct FileLogHandler: LogHandler {
    final class Sink: @unchecked Sendable {
        let lock = NSLock()
        let handle: FileHandle?
        init(_ url: URL) {
            // O_APPEND: a command stage's child process appends its output to the same file.
            let fd = open(url.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            handle = fd >= 0 ? FileHandle(fileDescriptor: fd, closeOnDealloc: true) : nil
        }
        func write(_ line: String) { lock.withLock { try? handle?.write(contentsOf: Data(line.utf8)) } }
    }

    private let sink: Sink
    private let label: String
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]

    /// Appends to `url` (created when absent); `label` prefixes each line.
    public init(url: URL, label: String) {
        self.sink = Sink(url)
        self.label = label
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, b in b }
        let meta = merged.isEmpty ? "" : " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let time = ISO8601DateFormatter().string(from: Date())
        sink.write("\(time) \(event.level) \(label): \(event.message)\(meta)\n")
    }
}
