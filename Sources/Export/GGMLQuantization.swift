import Foundation

/// Tensor element types of ggml that this exporter writes, with ggml's numbering.
///
/// Source: ggml `docs/gguf.md` (`enum ggml_type`), `ggml-common.h` (block layouts).
public enum GGMLType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q8_0 = 8
    case bf16 = 30

    /// Elements per block (1 for plain floats, 32 for Q8_0 and Q4_0).
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: return 1
        case .q4_0, .q8_0: return 32
        }
    }

    /// Bytes per block: F32 4, F16/BF16 2, Q8_0 34 (fp16 scale + 32 int8), Q4_0 18 (fp16 scale + 16 bytes of nibbles).
    public var blockBytes: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .q8_0: return 34
        case .q4_0: return 18
        }
    }

    /// Bytes of `count` elements; `count` must be a multiple of `blockSize`.
    public func byteCount(elements count: Int) -> Int { count / blockSize * blockBytes }

    public var description: String {
        switch self {
        case .f32: return "F32"
        case .f16: return "F16"
        case .q4_0: return "Q4_0"
        case .q8_0: return "Q8_0"
        case .bf16: return "BF16"
        }
    }
}

// MARK: - Encoders (ggml reference quantizers)

/// Encodes `x` as `type` and appends the bytes to `out`.
///
/// F16 and BF16 round to nearest even; Q8_0 and Q4_0 follow ggml's `quantize_row_q8_0_ref` and
/// `quantize_row_q4_0_ref` bit for bit (scale computed in Float32, stored as fp16).
/// - Parameters:
///   - x: elements, a multiple of `type.blockSize` of them (the caller checks row lengths).
///   - type: the element type.
///   - out: the buffer to append to (`type.byteCount(elements: x.count)` bytes are added).
public func ggmlEncode(_ x: UnsafeBufferPointer<Float>, as type: GGMLType, into out: inout [UInt8]) {
    precondition(x.count % type.blockSize == 0, "ggmlEncode: caller must check the row length")
    out.reserveCapacity(out.count + type.byteCount(elements: x.count))
    func appendHalf(_ h: UInt16) { out.append(UInt8(h & 0xFF)); out.append(UInt8(h >> 8)) }
    switch type {
    case .f32:
        for v in x { let b = v.bitPattern; out.append(UInt8(b & 0xFF)); out.append(UInt8((b >> 8) & 0xFF)); out.append(UInt8((b >> 16) & 0xFF)); out.append(UInt8(b >> 24)) }
    case .f16:
        for v in x { appendHalf(Float16(v).bitPattern) }
    case .bf16:
        for v in x { appendHalf(bfloat16Bits(v)) }
    case .q8_0:
        for start in stride(from: 0, to: x.count, by: 32) { quantizeBlockQ8_0(x, start, &out) }
    case .q4_0:
        for start in stride(from: 0, to: x.count, by: 32) { quantizeBlockQ4_0(x, start, &out) }
    }
}

/// One Q8_0 block: `d = amax / 127`, `q[j] = roundf(x[j] / d)` (half away from zero), fp16 `d` then 32 int8.
/// Source: ggml `ggml-quants.c` `quantize_row_q8_0_ref`.
@inline(__always)
private func quantizeBlockQ8_0(_ x: UnsafeBufferPointer<Float>, _ start: Int, _ out: inout [UInt8]) {
    var amax: Float = 0
    for j in 0..<32 { amax = max(amax, abs(x[start + j])) }
    let d = amax / 127
    let id: Float = d != 0 ? 1 / d : 0
    let h = Float16(d).bitPattern
    out.append(UInt8(h & 0xFF)); out.append(UInt8(h >> 8))
    for j in 0..<32 {
        let q = (x[start + j] * id).rounded(.toNearestOrAwayFromZero)
        out.append(UInt8(bitPattern: Int8(q)))
    }
}

/// One Q4_0 block: `d = (the element of largest |x|, signed) / -8`, `q = min(15, Int8(x / d + 8.5))`;
/// element j in the low nibble of byte j, element j+16 in the high nibble; dequantise `(q - 8) · d`.
/// Source: ggml `ggml-quants.c` `quantize_row_q4_0_ref`, `ggml-common.h` `block_q4_0`.
@inline(__always)
private func quantizeBlockQ4_0(_ x: UnsafeBufferPointer<Float>, _ start: Int, _ out: inout [UInt8]) {
    var amax: Float = 0, maxValue: Float = 0
    for j in 0..<32 {
        let v = x[start + j]
        if amax < abs(v) { amax = abs(v); maxValue = v }
    }
    let d = maxValue / -8
    let id: Float = d != 0 ? 1 / d : 0
    let h = Float16(d).bitPattern
    out.append(UInt8(h & 0xFF)); out.append(UInt8(h >> 8))
    for j in 0..<16 {
        let x0 = x[start + j] * id, x1 = x[start + 16 + j] * id
        // C's (int8_t) cast truncates toward zero; x·id + 8.5 lies in [0.5, 16.5] here.
        let q0 = min(15, Int(Int8(truncatingIfNeeded: Int(x0 + 8.5))))
        let q1 = min(15, Int(Int8(truncatingIfNeeded: Int(x1 + 8.5))))
        out.append(UInt8(q0) | UInt8(q1) << 4)
    }
}

/// Float32 → bfloat16 bits, round to nearest even, NaN kept quiet (ggml `ggml_compute_fp32_to_bf16`).
@inline(__always)
func bfloat16Bits(_ f: Float) -> UInt16 {
    let bits = f.bitPattern
    if (bits & 0x7FFF_FFFF) > 0x7F80_0000 { return UInt16((bits >> 16) | 64) }
    return UInt16(truncatingIfNeeded: (UInt64(bits) + UInt64(0x7FFF + ((bits >> 16) & 1))) >> 16)
}

// MARK: - Decoders (for checks and tests)

/// Decodes `count` elements of `type` from `bytes` (the inverse of `ggmlEncode` up to rounding).
/// - Returns: nil when `bytes` is shorter than `type.byteCount(elements: count)`.
public func ggmlDecode(_ bytes: [UInt8], as type: GGMLType, count: Int) -> [Float]? {
    guard count % type.blockSize == 0, bytes.count >= type.byteCount(elements: count) else { return nil }
    func half(_ i: Int) -> Float { Float(Float16(bitPattern: UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8)) }
    var out = [Float](repeating: 0, count: count)
    switch type {
    case .f32:
        for i in 0..<count {
            let b = UInt32(bytes[4 * i]) | UInt32(bytes[4 * i + 1]) << 8 | UInt32(bytes[4 * i + 2]) << 16 | UInt32(bytes[4 * i + 3]) << 24
            out[i] = Float(bitPattern: b)
        }
    case .f16:
        for i in 0..<count { out[i] = half(2 * i) }
    case .bf16:
        for i in 0..<count { out[i] = Float(bitPattern: (UInt32(bytes[2 * i]) | UInt32(bytes[2 * i + 1]) << 8) << 16) }
    case .q8_0:
        for b in 0..<(count / 32) {
            let d = half(34 * b)
            for j in 0..<32 { out[32 * b + j] = Float(Int8(bitPattern: bytes[34 * b + 2 + j])) * d }
        }
    case .q4_0:
        for b in 0..<(count / 32) {
            let d = half(18 * b)
            for j in 0..<16 {
                let byte = bytes[18 * b + 2 + j]
                out[32 * b + j] = Float(Int(byte & 0x0F) - 8) * d
                out[32 * b + 16 + j] = Float(Int(byte >> 4) - 8) * d
            }
        }
    }
    return out
}
