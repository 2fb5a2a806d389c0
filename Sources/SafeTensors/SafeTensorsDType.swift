/// Element types of the safetensors format, spelled as in the header's `dtype` field.
///
/// Source: huggingface/safetensors README ("Format").
public enum SafeTensorsDType: String, Codable, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"
    case u16 = "U16", u32 = "U32", u64 = "U64"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f64, .i64, .u64: return 8
        case .f32, .i32, .u32: return 4
        case .f16, .bf16, .i16, .u16: return 2
        case .i8, .u8, .bool: return 1
        }
    }

    /// Whether `SafeTensorsFile.floats` can convert this type to Float32.
    public var isFloatingPoint: Bool { self == .f32 || self == .f16 || self == .bf16 || self == .f64 }
}

// MARK: - Half-precision conversions

/// Converts an IEEE 754 binary16 bit pattern to Float32 (exact).
@inline(__always)
public func halfBitsToFloat(_ h: UInt16) -> Float {
    Float(Float16(bitPattern: h))
}

/// Converts Float32 to an IEEE 754 binary16 bit pattern, rounding to nearest even.
@inline(__always)
public func floatToHalfBits(_ f: Float) -> UInt16 {
    Float16(f).bitPattern
}

/// Converts a bfloat16 bit pattern to Float32 (exact: bf16 is the top half of an f32).
@inline(__always)
public func bfloat16BitsToFloat(_ b: UInt16) -> Float {
    Float(bitPattern: UInt32(b) << 16)
}

/// Converts Float32 to bfloat16 bits, rounding to nearest even (NaN stays NaN), as PyTorch does.
@inline(__always)
public func floatToBFloat16Bits(_ f: Float) -> UInt16 {
    let bits = f.bitPattern
    if f.isNaN { return UInt16(truncatingIfNeeded: (bits >> 16) | 0x40) }
    let rounding: UInt32 = 0x7FFF + ((bits >> 16) & 1)
    return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
}
