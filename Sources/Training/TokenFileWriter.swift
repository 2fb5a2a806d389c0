// Streams token ids into a temporary `NAME.bin`, then publishes `NAME.bin` and `NAME.json` by rename.
import Foundation

/// Writes one token file incrementally (documents appended one at a time, buffered), so a corpus
/// never has to sit in memory as ids. Nothing is visible at the final paths until `finish()`:
/// the data goes to a temporary file, is fsynced and renamed, then the header is written atomically
/// (a reader checks that the data length matches the header's `count`).
///
/// Not thread-safe; use from one task.
public final class TokenFileWriter {
    /// Where the file will be published.
    public let paths: TokenFilePaths
    /// Width chosen from the vocabulary size.
    public let dtype: TokenDType
    /// Vocabulary size; every id must be in `0..<vocabSize`.
    public let vocabSize: Int
    private let fingerprint: String
    private let separator: Int32?
    private let tmpURL: URL
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var documents: [TokenDocumentSpan] = []
    private var count = 0
    private var finished = false

    /// Creates the temporary data file beside `base`.
    /// - Parameters:
    ///   - base: base path without extension (`DIR/train` → `DIR/train.bin` + `DIR/train.json`).
    ///   - vocabSize: vocabulary size (ids), decides the dtype.
    ///   - tokenizerFingerprint: identifier of the tokenizer, stored in the header.
    ///   - separatorToken: id appended after every document (e.g. end-of-text), or nil.
    /// - Throws: `TrainingError.invalidConfiguration` for a non-positive vocabulary or a separator
    ///   outside it; `TrainingError.io` when the directory or file cannot be created.
    public init(base: URL, vocabSize: Int, tokenizerFingerprint: String, separatorToken: Int32? = nil) throws {
        guard vocabSize > 0, vocabSize <= Int(UInt32.max) else {
            throw TrainingError.invalidConfiguration(field: "vocab_size", reason: "must be in 1...\(UInt32.max), got \(vocabSize)")
        }
        if let s = separatorToken, s < 0 || Int(s) >= vocabSize {
            throw TrainingError.invalidConfiguration(field: "separator_token", reason: "\(s) is outside 0..<\(vocabSize)")
        }
        paths = TokenFilePaths(base: base)
        dtype = .forVocabulary(size: vocabSize)
        self.vocabSize = vocabSize
        fingerprint = tokenizerFingerprint
        separator = separatorToken
        let dir = base.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        } catch {
            throw TrainingError.io(operation: "create directory", path: dir.path, reason: "\(error)")
        }
        tmpURL = dir.appendingPathComponent(".\(paths.data.lastPathComponent).tmp-\(UInt32.random(in: 0...UInt32.max))")
        guard FileManager.default.createFile(atPath: tmpURL.path, contents: nil),
              let h = FileHandle(forWritingAtPath: tmpURL.path) else {
            throw TrainingError.io(operation: "create", path: tmpURL.path, reason: errnoText())
        }
        handle = h
    }

    deinit {
        if !finished {
            try? handle.close()
            try? FileManager.default.removeItem(at: tmpURL)
        }
    }

    /// Number of ids written so far (tokens, separators included).
    public var tokenCount: Int { count }

    /// Appends one document (then the separator, if any) and records its span.
    /// - Parameters:
    ///   - tokens: the document's ids `[n]`.
    ///   - id: the document's id, stored in the header.
    /// - Throws: `TrainingError.tokenOutOfRange` for an id outside the vocabulary (nothing of this
    ///   document is written); `TrainingError.io` when the write fails.
    public func append<C: Collection>(_ tokens: C, id: String) throws where C.Element == Int32 {
        for t in tokens where t < 0 || Int(t) >= vocabSize {
            throw TrainingError.tokenOutOfRange(token: Int64(t), vocabSize: vocabSize, document: id)
        }
        documents.append(TokenDocumentSpan(id: id, start: count, count: tokens.count))
        for t in tokens { put(t) }
        if let s = separator { put(s) }
        if buffer.count >= 1 << 20 { try flush() }
    }

    @inline(__always) private func put(_ t: Int32) {
        let v = UInt32(bitPattern: t)
        buffer.append(UInt8(truncatingIfNeeded: v))
        buffer.append(UInt8(truncatingIfNeeded: v >> 8))
        if dtype == .uint32 {
            buffer.append(UInt8(truncatingIfNeeded: v >> 16))
            buffer.append(UInt8(truncatingIfNeeded: v >> 24))
        }
        count += 1
    }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        do { try handle.write(contentsOf: buffer) } catch {
            throw TrainingError.io(operation: "write", path: tmpURL.path, reason: "\(error)")
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Publishes the file: flushes, fsyncs, renames the data into place, writes the header atomically.
    /// - Returns: the header written.
    /// - Throws: `TrainingError.io` when a write, sync or rename fails (the temporary file is removed).
    @discardableResult
    public func finish() throws -> TokenFileHeader {
        precondition(!finished, "TokenFileWriter.finish() called twice")
        finished = true
        do {
            try flush()
            try handle.synchronize()
            try handle.close()
        } catch {
            try? FileManager.default.removeItem(at: tmpURL)
            throw TrainingError.io(operation: "write", path: tmpURL.path, reason: "\(error)")
        }
        do {
            try renameReplacing(from: tmpURL, to: paths.data)
        } catch {
            try? FileManager.default.removeItem(at: tmpURL)
            throw error
        }
        let header = TokenFileHeader(dtype: dtype, count: count, vocabSize: vocabSize,
                                     tokenizerFingerprint: fingerprint, separatorToken: separator,
                                     documents: documents)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data: Data
        do { data = try enc.encode(header) } catch {
            throw TrainingError.io(operation: "encode header", path: paths.header.path, reason: "\(error)")
        }
        try writeFileAtomically(data, to: paths.header)
        return header
    }
}
