import Foundation

/// A metadata value of a GGUF file, tagged with its GGUF type.
///
/// Source: ggml `docs/gguf.md` (`gguf_metadata_value_type`).
public indirect enum GGUFValue: Equatable, Sendable {
    /// Scalars, one case per GGUF type (little-endian in the file; bool is one byte 0/1).
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16)
    case uint32(UInt32), int32(Int32), float32(Float), bool(Bool)
    /// A u64 byte length, then UTF-8 bytes (no terminator).
    case string(String)
    /// A homogeneous array: the element type code and the elements (all of that type).
    case array(GGUFValueType, [GGUFValue])
    /// 64-bit scalars.
    case uint64(UInt64), int64(Int64), float64(Double)

    /// An array of strings (e.g. `tokenizer.ggml.tokens`).
    public static func strings(_ s: [String]) -> GGUFValue { .array(.string, s.map { .string($0) }) }
    /// An array of int32 (e.g. `tokenizer.ggml.token_type`).
    public static func int32s(_ v: [Int32]) -> GGUFValue { .array(.int32, v.map { .int32($0) }) }

    /// The GGUF type code of this value.
    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .float32: return .float32
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        case .uint64: return .uint64
        case .int64: return .int64
        case .float64: return .float64
        }
    }
}

/// GGUF metadata type codes (`gguf_metadata_value_type`, little-endian u32 in the file).
public enum GGUFValueType: UInt32, Sendable {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12
}

/// Where a tensor sits in a GGUF file (as the tensor-info table says).
public struct GGUFTensorInfo: Equatable, Sendable {
    /// Tensor name (at most 64 bytes), e.g. `blk.0.attn_q.weight`.
    public var name: String
    /// Dimensions innermost first (ggml order): a `[out, in]` PyTorch weight is `[in, out]`.
    public var dimensions: [Int]
    /// Element type.
    public var type: GGMLType
    /// Offset of the data from the start of the tensor-data section, a multiple of the alignment.
    public var offset: Int
    /// Bytes of data.
    public var byteCount: Int
}

/// Builds a GGUF version 3 file: header, metadata key-values, tensor infos, padding, aligned tensor data.
///
/// Little-endian throughout. Strings are a u64 length then UTF-8 bytes; arrays a u32 element type, a u64
/// count, then the elements. Each tensor's offset (relative to the data section) is a multiple of
/// `alignment`; the gap before the data section and between tensors is zero-filled. `general.alignment`
/// (u32) is written when the alignment is not the default 32.
/// Source: ggml `docs/gguf.md` ("File Structure").
public struct GGUFWriter {
    private struct PendingTensor { var info: GGUFTensorInfo; var data: [Float] }
    /// Alignment of the tensor data in bytes (a multiple of 8; 32 is GGUF's default).
    public let alignment: Int
    private(set) var metadata: [(String, GGUFValue)] = []
    private var keys: Set<String> = []
    private var pending: [PendingTensor] = []
    private var dataBytes = 0

    /// - Parameter alignment: tensor data alignment in bytes, a positive multiple of 8.
    public init(alignment: Int = 32) {
        precondition(alignment > 0 && alignment % 8 == 0, "GGUF alignment must be a positive multiple of 8")
        self.alignment = alignment
        if alignment != 32 { metadata.append(("general.alignment", .uint32(UInt32(alignment)))); keys.insert("general.alignment") }
    }

    /// Adds a metadata key-value pair (kept in insertion order).
    /// - Throws: `ExportError.invalidOptions` for a duplicate key, a key that is not ASCII or longer than
    ///   65535 bytes, or an array whose elements are not all of its declared type.
    public mutating func set(_ key: String, _ value: GGUFValue) throws {
        guard !keys.contains(key) else { throw ExportError.invalidOptions(detail: "GGUF key '\(key)' is set twice") }
        guard key.utf8.count <= 65535, key.allSatisfy({ $0.isASCII }) else { throw ExportError.invalidOptions(detail: "GGUF key '\(key)' must be ASCII of at most 65535 bytes") }
        if case let .array(type, elements) = value, let bad = elements.first(where: { $0.type != type }) {
            throw ExportError.invalidOptions(detail: "GGUF key '\(key)': array of \(type) holds a \(bad.type) element")
        }
        keys.insert(key)
        metadata.append((key, value))
    }

    /// Adds a tensor, to be encoded as `type` when the file is written.
    ///
    /// - Parameters:
    ///   - name: GGUF tensor name (at most 64 bytes).
    ///   - shape: PyTorch order, outermost first (`[out, in]`); stored reversed in the file.
    ///   - type: element type; block types need the innermost dimension (row length) to be a multiple of 32.
    ///   - data: row-major elements, `shape.reduce(1, *)` of them.
    /// - Returns: the tensor's info (offset within the data section).
    /// - Throws: `ExportError.rowLengthNotQuantizable` when the row length does not fit the block size;
    ///   `.invalidOptions` for a duplicate or too long name or a count/shape mismatch.
    @discardableResult
    public mutating func addTensor(_ name: String, shape: [Int], type: GGMLType, data: [Float]) throws -> GGUFTensorInfo {
        guard name.utf8.count <= 64 else { throw ExportError.invalidOptions(detail: "GGUF tensor name '\(name)' is longer than 64 bytes") }
        guard !pending.contains(where: { $0.info.name == name }) else { throw ExportError.invalidOptions(detail: "GGUF tensor '\(name)' added twice") }
        guard !shape.isEmpty, shape.count <= 4, shape.reduce(1, *) == data.count else {
            throw ExportError.invalidOptions(detail: "GGUF tensor '\(name)': shape \(shape) does not hold \(data.count) elements (1 to 4 dimensions)")
        }
        let rowLength = shape[shape.count - 1]
        guard rowLength % type.blockSize == 0 else {
            throw ExportError.rowLengthNotQuantizable(tensor: name, rowLength: rowLength, type: type.description, blockSize: type.blockSize)
        }
        let info = GGUFTensorInfo(name: name, dimensions: shape.reversed(), type: type, offset: dataBytes,
                                  byteCount: type.byteCount(elements: data.count))
        dataBytes = align(dataBytes + info.byteCount)
        pending.append(PendingTensor(info: info, data: data))
        return info
    }

    /// The tensor infos in file order.
    public var tensorInfos: [GGUFTensorInfo] { pending.map(\.info) }

    /// Rounds `offset` up to a multiple of the alignment (`align_offset` in the spec).
    public func align(_ offset: Int) -> Int { offset + (alignment - offset % alignment) % alignment }

    /// The bytes before the tensor data: header, metadata, tensor infos, and zero padding up to the alignment.
    public func headerBytes() -> [UInt8] {
        var out: [UInt8] = []
        out += Array("GGUF".utf8)
        appendLE(&out, UInt32(3))
        appendLE(&out, UInt64(pending.count))
        appendLE(&out, UInt64(metadata.count))
        for (key, value) in metadata {
            appendString(&out, key)
            appendLE(&out, value.type.rawValue)
            appendValue(&out, value)
        }
        for t in pending {
            appendString(&out, t.info.name)
            appendLE(&out, UInt32(t.info.dimensions.count))
            for d in t.info.dimensions { appendLE(&out, UInt64(d)) }
            appendLE(&out, t.info.type.rawValue)
            appendLE(&out, UInt64(t.info.offset))
        }
        out += [UInt8](repeating: 0, count: align(out.count) - out.count)
        return out
    }

    /// The complete file in memory (for tests and small models).
    public func serialized() -> Data {
        var data = Data(headerBytes())
        forEachTensorChunk { data.append(contentsOf: $0) }
        return data
    }

    /// Streams the file to `url` (created or truncated), one tensor at a time.
    /// - Parameter progress: called after each tensor with (tensors done, total, name).
    /// - Throws: `ExportError.writeFailed` when the file cannot be created or written.
    public func write(to url: URL, progress: ((Int, Int, String) -> Void)? = nil) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil),
              let handle = FileHandle(forWritingAtPath: url.path)
        else { throw ExportError.writeFailed(path: url.path, detail: "cannot create the file") }
        defer { try? handle.close() }
        do {
            try handle.write(contentsOf: headerBytes())
            var failure: Error?
            var done = 0
            forEachTensorChunk { chunk in
                guard failure == nil else { return }
                do { try handle.write(contentsOf: chunk) } catch { failure = error }
                done += 1
                progress?(done, pending.count, pending[done - 1].info.name)
            }
            if let failure { throw failure }
            try handle.synchronize()
        } catch {
            throw ExportError.writeFailed(path: url.path, detail: error.localizedDescription)
        }
    }

    /// Encodes each tensor in turn and hands its bytes plus the padding to the next alignment.
    private func forEachTensorChunk(_ body: ([UInt8]) -> Void) {
        for t in pending {
            var bytes: [UInt8] = []
            t.data.withUnsafeBufferPointer { ggmlEncode($0, as: t.info.type, into: &bytes) }
            bytes += [UInt8](repeating: 0, count: align(bytes.count) - bytes.count)
            body(bytes)
        }
    }

    // MARK: - Encoding

    private func appendLE<T: FixedWidthInteger>(_ out: inout [UInt8], _ v: T) {
        withUnsafeBytes(of: v.littleEndian) { out += $0 }
    }

    private func appendString(_ out: inout [UInt8], _ s: String) {
        appendLE(&out, UInt64(s.utf8.count))
        out += Array(s.utf8)
    }

    private func appendValue(_ out: inout [UInt8], _ value: GGUFValue) {
        switch value {
        case let .uint8(v): out.append(v)
        case let .int8(v): out.append(UInt8(bitPattern: v))
        case let .uint16(v): appendLE(&out, v)
        case let .int16(v): appendLE(&out, v)
        case let .uint32(v): appendLE(&out, v)
        case let .int32(v): appendLE(&out, v)
        case let .float32(v): appendLE(&out, v.bitPattern)
        case let .bool(v): out.append(v ? 1 : 0)
        case let .string(s): appendString(&out, s)
        case let .array(type, elements):
            appendLE(&out, type.rawValue)
            appendLE(&out, UInt64(elements.count))
            for e in elements { appendValue(&out, e) }
        case let .uint64(v): appendLE(&out, v)
        case let .int64(v): appendLE(&out, v)
        case let .float64(v): appendLE(&out, v.bitPattern)
        }
    }
}
