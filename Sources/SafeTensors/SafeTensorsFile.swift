import Foundation

/// One tensor's entry in a safetensors header.
public struct SafeTensorsEntry: Equatable, Sendable {
    /// Tensor name, e.g. `model.layers.0.self_attn.q_proj.weight`.
    public var name: String
    /// Element type.
    public var dtype: SafeTensorsDType
    /// Shape, outermost first (PyTorch order: a Linear weight is `[out_features, in_features]`).
    public var shape: [Int]
    /// Byte range of the data, relative to the end of the header: `[begin, end)`.
    public var dataOffsets: (Int, Int)

    /// Number of elements (1 for a scalar of shape `[]`).
    public var count: Int { shape.reduce(1, *) }

    public static func == (a: Self, b: Self) -> Bool {
        a.name == b.name && a.dtype == b.dtype && a.shape == b.shape && a.dataOffsets == b.dataOffsets
    }
}

/// A safetensors file opened for reading (memory-mapped).
///
/// Layout (huggingface/safetensors README): 8-byte little-endian `UInt64` header length `N`, then `N`
/// bytes of UTF-8 JSON `{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}`,
/// then the raw little-endian tensor data; offsets are relative to the byte after the header.
public struct SafeTensorsFile: @unchecked Sendable {
    /// Where the file was read from (for error messages).
    public let path: String
    /// The `__metadata__` map (string to string), empty when absent.
    public let metadata: [String: String]
    /// Entries sorted by data offset (the order the writer laid them out).
    public let entries: [SafeTensorsEntry]
    private let index: [String: Int]
    private let data: Data
    private let dataStart: Int

    /// Tensor names in file order.
    public var names: [String] { entries.map(\.name) }

    /// Opens and validates a safetensors file.
    ///
    /// - Parameter url: the file.
    /// - Throws: `SafeTensorsError.truncated` when the file is shorter than the header or a tensor's
    ///   range; `.malformedHeader` when the JSON is invalid, a dtype is unknown, offsets overlap or do
    ///   not match shape × dtype size. Foundation's error when the file cannot be opened.
    public static func read(contentsOf url: URL) throws -> SafeTensorsFile {
        let data = try Data(contentsOf: url, options: .alwaysMapped)
        return try SafeTensorsFile(data: data, path: url.path)
    }

    /// Parses a safetensors file already in memory.
    /// - Throws: as `read(contentsOf:)`.
    public init(data: Data, path: String = "<memory>") throws {
        self.path = path
        self.data = data
        guard data.count >= 8 else {
            throw SafeTensorsError.truncated(path: path, detail: "\(data.count) bytes, the 8-byte header length is missing")
        }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(data[data.startIndex + i]) << (8 * UInt64(i)) }
        guard n <= UInt64(data.count - 8) else {
            throw SafeTensorsError.truncated(path: path, detail: "header length \(n) exceeds the file size \(data.count)")
        }
        let headerLength = Int(n)
        dataStart = 8 + headerLength
        let headerBytes = data.subdata(in: (data.startIndex + 8)..<(data.startIndex + dataStart))
        guard let object = try? JSONSerialization.jsonObject(with: headerBytes), let header = object as? [String: Any] else {
            throw SafeTensorsError.malformedHeader(path: path, detail: "the header is not a JSON object")
        }
        var meta: [String: String] = [:]
        var list: [SafeTensorsEntry] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else {
                    throw SafeTensorsError.malformedHeader(path: path, detail: "__metadata__ is not an object")
                }
                for (k, v) in m { meta[k] = (v as? String) ?? "\(v)" }
                continue
            }
            guard let fields = value as? [String: Any],
                  let dtypeName = fields["dtype"] as? String,
                  let shapeAny = fields["shape"] as? [Any],
                  let offsetsAny = fields["data_offsets"] as? [Any], offsetsAny.count == 2
            else {
                throw SafeTensorsError.malformedHeader(path: path, detail: "entry '\(name)' needs dtype, shape and data_offsets")
            }
            guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
                throw SafeTensorsError.malformedHeader(path: path, detail: "entry '\(name)' has unknown dtype \(dtypeName)")
            }
            let shape = shapeAny.compactMap { ($0 as? NSNumber)?.intValue }
            let offsets = offsetsAny.compactMap { ($0 as? NSNumber)?.intValue }
            guard shape.count == shapeAny.count, shape.allSatisfy({ $0 >= 0 }), offsets.count == 2,
                  offsets[0] >= 0, offsets[1] >= offsets[0]
            else {
                throw SafeTensorsError.malformedHeader(path: path, detail: "entry '\(name)' has an invalid shape or data_offsets")
            }
            let entry = SafeTensorsEntry(name: name, dtype: dtype, shape: shape, dataOffsets: (offsets[0], offsets[1]))
            guard entry.count * dtype.size == offsets[1] - offsets[0] else {
                throw SafeTensorsError.malformedHeader(
                    path: path, detail: "entry '\(name)': shape \(shape) × \(dtype.rawValue) needs \(entry.count * dtype.size) bytes, data_offsets span \(offsets[1] - offsets[0])")
            }
            guard dataStart + offsets[1] <= data.count else {
                throw SafeTensorsError.truncated(path: path, detail: "tensor '\(name)' ends at byte \(dataStart + offsets[1]) of \(data.count)")
            }
            list.append(entry)
        }
        list.sort { $0.dataOffsets.0 < $1.dataOffsets.0 }
        for i in 1..<max(1, list.count) where list[i].dataOffsets.0 < list[i - 1].dataOffsets.1 {
            throw SafeTensorsError.malformedHeader(path: path, detail: "tensors '\(list[i - 1].name)' and '\(list[i].name)' overlap")
        }
        metadata = meta
        entries = list
        var idx: [String: Int] = [:]
        for (i, e) in list.enumerated() { idx[e.name] = i }
        index = idx
    }

    /// The entry for `name`, or nil when absent.
    public func entry(_ name: String) -> SafeTensorsEntry? { index[name].map { entries[$0] } }

    /// Whether the file holds a tensor called `name`.
    public func contains(_ name: String) -> Bool { index[name] != nil }

    /// Reads a floating-point tensor as Float32 (F16 and BF16 converted exactly, F64 rounded).
    ///
    /// - Parameters:
    ///   - name: tensor name.
    ///   - shape: the expected shape, checked when given.
    /// - Returns: the elements in row-major order, `shape.reduce(1, *)` of them.
    /// - Throws: `.missingTensor`, `.shapeMismatch`, `.unsupportedDType` (integer or bool dtypes).
    public func floats(_ name: String, shape expected: [Int]? = nil) throws -> [Float] {
        guard let e = entry(name) else { throw SafeTensorsError.missingTensor(name: name, path: path) }
        if let expected, expected != e.shape {
            throw SafeTensorsError.shapeMismatch(name: name, expected: expected, found: e.shape)
        }
        guard e.dtype.isFloatingPoint else { throw SafeTensorsError.unsupportedDType(name: name, dtype: e.dtype.rawValue) }
        let n = e.count
        var out = [Float](repeating: 0, count: n)
        let begin = data.startIndex + dataStart + e.dataOffsets.0
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let base = raw.baseAddress!.advanced(by: begin - data.startIndex)
            out.withUnsafeMutableBufferPointer { dst in
                switch e.dtype {
                case .f32:
                    memcpy(dst.baseAddress!, base, n * 4)
                    #if _endian(big)
                    for i in 0..<n { dst[i] = Float(bitPattern: UInt32(littleEndian: dst[i].bitPattern)) }
                    #endif
                case .f16:
                    for i in 0..<n { dst[i] = halfBitsToFloat(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
                case .bf16:
                    for i in 0..<n { dst[i] = bfloat16BitsToFloat(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
                case .f64:
                    for i in 0..<n { dst[i] = Float(Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
                default: break
                }
            }
        }
        return out
    }

    /// The raw little-endian bytes of a tensor, whatever its dtype.
    /// - Throws: `.missingTensor` when absent.
    public func rawBytes(_ name: String) throws -> Data {
        guard let e = entry(name) else { throw SafeTensorsError.missingTensor(name: name, path: path) }
        let begin = data.startIndex + dataStart + e.dataOffsets.0
        return data.subdata(in: begin..<(begin + e.dataOffsets.1 - e.dataOffsets.0))
    }
}
