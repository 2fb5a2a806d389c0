// A read-only, memory-mapped view of a token file.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A token file mapped into memory (`mmap`, read-only): ids are read in place, the corpus is never
/// copied. Immutable after `init`, so it can be shared between threads.
public final class TokenFileReader: @unchecked Sendable {
    /// The file's header.
    public let header: TokenFileHeader
    /// Where it was read from.
    public let paths: TokenFilePaths
    private let base: UnsafeRawPointer?
    private let mappedLength: Int

    /// Opens and maps `BASE.bin` after validating `BASE.json`.
    /// - Parameter base: base path without extension.
    /// - Throws: `TrainingError.invalidTokenFile` when the header is missing, unreadable, of an unknown
    ///   format or version, or when the data length is not `count * width` bytes; `TrainingError.io`
    ///   when `open`/`mmap` fail.
    public init(base: URL) throws {
        paths = TokenFilePaths(base: base)
        let headerData: Data
        do { headerData = try Data(contentsOf: paths.header) } catch {
            throw TrainingError.invalidTokenFile(path: paths.header.path, reason: "cannot read the header (\(error.localizedDescription))")
        }
        let h: TokenFileHeader
        do { h = try JSONDecoder().decode(TokenFileHeader.self, from: headerData) } catch {
            throw TrainingError.invalidTokenFile(path: paths.header.path, reason: "malformed header JSON: \(error)")
        }
        guard h.format == "rlhf-tokens" else {
            throw TrainingError.invalidTokenFile(path: paths.header.path, reason: "format is \"\(h.format)\", expected \"rlhf-tokens\"")
        }
        guard h.version == 1 else {
            throw TrainingError.invalidTokenFile(path: paths.header.path, reason: "version \(h.version) is not supported (this build reads version 1)")
        }
        guard h.count >= 0, h.vocabSize > 0 else {
            throw TrainingError.invalidTokenFile(path: paths.header.path, reason: "negative count or vocab_size")
        }
        header = h
        let fd = open(paths.data.path, O_RDONLY)
        guard fd >= 0 else { throw TrainingError.io(operation: "open", path: paths.data.path, reason: errnoText()) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw TrainingError.io(operation: "fstat", path: paths.data.path, reason: errnoText()) }
        let expected = h.count * h.dtype.byteWidth
        guard Int(st.st_size) == expected else {
            throw TrainingError.invalidTokenFile(
                path: paths.data.path,
                reason: "holds \(st.st_size) bytes but the header says \(h.count) \(h.dtype.rawValue) ids (\(expected) bytes)")
        }
        mappedLength = expected
        if expected == 0 {
            self.base = nil
        } else {
            let p = mmap(nil, expected, PROT_READ, MAP_PRIVATE, fd, 0)
            guard let p, p != MAP_FAILED else {
                throw TrainingError.io(operation: "mmap", path: paths.data.path, reason: errnoText())
            }
            self.base = UnsafeRawPointer(p)
        }
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), mappedLength) }
    }

    /// Number of ids in the file (tokens).
    public var count: Int { header.count }

    /// The id at `index`.
    /// - Precondition: `0 <= index < count`.
    @inline(__always) public subscript(index: Int) -> Int32 {
        precondition(index >= 0 && index < header.count, "token index \(index) out of 0..<\(header.count)")
        return load(index)
    }

    @inline(__always) private func load(_ i: Int) -> Int32 {
        // base is non-nil whenever count > 0
        let p = base.unsafelyUnwrapped
        switch header.dtype {
        case .uint16:
            return Int32(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
        case .uint32:
            return Int32(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
        }
    }

    /// Copies ids `start..<start + count` into `out[offset..<offset + count]` (no allocation).
    /// - Precondition: the range lies inside the file and inside `out`.
    public func copy(start: Int, count n: Int, into out: inout [Int32], at offset: Int) {
        precondition(start >= 0 && n >= 0 && start + n <= header.count, "window \(start)..<\(start + n) outside 0..<\(header.count)")
        precondition(offset >= 0 && offset + n <= out.count)
        out.withUnsafeMutableBufferPointer { o in
            for k in 0..<n { o[offset + k] = load(start + k) }
        }
    }

    /// Returns ids `range` as a new array.
    public func tokens(_ range: Range<Int>) -> [Int32] {
        var out = [Int32](repeating: 0, count: range.count)
        copy(start: range.lowerBound, count: range.count, into: &out, at: 0)
        return out
    }

    /// Returns one document's ids by its index in `header.documents`.
    public func document(at index: Int) -> [Int32] {
        let d = header.documents[index]
        return tokens(d.start..<(d.start + d.count))
    }
}
