import Foundation
import JSONText

/// Builds a safetensors file in memory and writes it atomically.
///
/// Tensors are laid out in the order they are added; the header lists them with `data_offsets`
/// and `__metadata__` (transformers requires `{"format": "pt"}`, the default). The header is padded
/// with spaces to a multiple of 8 bytes, as the reference implementation does.
/// Source: huggingface/safetensors README ("Format").
public struct SafeTensorsWriter {
    private struct Pending { var name: String; var dtype: SafeTensorsDType; var shape: [Int]; var bytes: Data }
    private var tensors: [Pending] = []
    private var seen: Set<String> = []
    /// The `__metadata__` map written in the header.
    public var metadata: [String: String]

    /// - Parameter metadata: header metadata; keep `"format": "pt"` for transformers.
    public init(metadata: [String: String] = ["format": "pt"]) { self.metadata = metadata }

    /// Adds a floating-point tensor, converting from Float32 to `dtype`.
    ///
    /// - Parameters:
    ///   - name: tensor name (unique in the file).
    ///   - shape: outermost first; `floats.count` must equal its product.
    ///   - floats: row-major elements.
    ///   - dtype: `.f32`, `.f16` or `.bf16` (round to nearest even).
    /// - Throws: `SafeTensorsError.invalidTensor` for a duplicate name, a count/shape mismatch or a non-float dtype.
    public mutating func add(_ name: String, shape: [Int], floats: [Float], dtype: SafeTensorsDType = .f32) throws {
        try floats.withUnsafeBufferPointer { try add(name, shape: shape, floats: $0, dtype: dtype) }
    }

    /// Adds a floating-point tensor from a buffer (see `add(_:shape:floats:dtype:)`).
    public mutating func add(_ name: String, shape: [Int], floats: UnsafeBufferPointer<Float>, dtype: SafeTensorsDType = .f32) throws {
        guard shape.reduce(1, *) == floats.count else {
            throw SafeTensorsError.invalidTensor(name: name, detail: "shape \(shape) holds \(shape.reduce(1, *)) elements, got \(floats.count)")
        }
        var bytes: Data
        switch dtype {
        case .f32:
            bytes = Data(count: floats.count * 4)
            bytes.withUnsafeMutableBytes { raw in
                for i in 0..<floats.count { raw.storeBytes(of: floats[i].bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
            }
        case .f16, .bf16:
            bytes = Data(count: floats.count * 2)
            bytes.withUnsafeMutableBytes { raw in
                for i in 0..<floats.count {
                    let h = dtype == .f16 ? floatToHalfBits(floats[i]) : floatToBFloat16Bits(floats[i])
                    raw.storeBytes(of: h.littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                }
            }
        default:
            throw SafeTensorsError.invalidTensor(name: name, detail: "cannot write floats as \(dtype.rawValue); use F32, F16 or BF16")
        }
        try addRaw(name, shape: shape, dtype: dtype, bytes: bytes)
    }

    /// Adds a tensor from raw little-endian bytes of any dtype (e.g. I64 optimiser step counts).
    /// - Throws: `SafeTensorsError.invalidTensor` for a duplicate name or a byte count that does not match.
    public mutating func addRaw(_ name: String, shape: [Int], dtype: SafeTensorsDType, bytes: Data) throws {
        guard !name.isEmpty, name != "__metadata__" else { throw SafeTensorsError.invalidTensor(name: name, detail: "invalid tensor name") }
        guard !seen.contains(name) else { throw SafeTensorsError.invalidTensor(name: name, detail: "added twice") }
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) * dtype.size == bytes.count else {
            throw SafeTensorsError.invalidTensor(name: name, detail: "shape \(shape) × \(dtype.rawValue) needs \(shape.reduce(1, *) * dtype.size) bytes, got \(bytes.count)")
        }
        seen.insert(name)
        tensors.append(Pending(name: name, dtype: dtype, shape: shape, bytes: bytes))
    }

    /// The complete file contents.
    public func serialized() -> Data {
        var header = "{"
        var parts: [String] = []
        if !metadata.isEmpty {
            let m = metadata.keys.sorted().map { "\(JSONText.literal($0)):\(JSONText.literal(metadata[$0]!))" }.joined(separator: ",")
            parts.append("\"__metadata__\":{\(m)}")
        }
        var offset = 0
        for t in tensors {
            let shape = t.shape.map(String.init).joined(separator: ",")
            parts.append("\(JSONText.literal(t.name)):{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + t.bytes.count)]}")
            offset += t.bytes.count
        }
        header += parts.joined(separator: ",") + "}"
        var headerData = Data(header.utf8)
        while headerData.count % 8 != 0 { headerData.append(0x20) }
        var out = Data(capacity: 8 + headerData.count + offset)
        var n = UInt64(headerData.count).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(headerData)
        for t in tensors { out.append(t.bytes) }
        return out
    }

    /// Writes the file atomically: a temporary file beside `url`, then a rename over it.
    /// - Throws: `SafeTensorsError.writeFailed` when the directory is missing or not writable.
    public func write(to url: URL) throws {
        do {
            try serialized().write(to: url, options: .atomic)
        } catch {
            throw SafeTensorsError.writeFailed(path: url.path, detail: error.localizedDescription)
        }
    }
}
