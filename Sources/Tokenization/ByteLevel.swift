// GPT-2's reversible byte <-> printable-character map used by byte-level BPE.

// MARK: - Byte-level alphabet

/// The GPT-2 byte-to-unicode table: every byte maps to one printable Unicode scalar.
///
/// Printable bytes (`!`..`~`, `¡`..`¬`, `®`..`ÿ`) map to themselves; the other 68 bytes map, in byte
/// order, to U+0100, U+0101, ... So the space 0x20 becomes `Ġ` (U+0120) and the newline `Ċ` (U+010A).
/// Example: `ByteLevel.tokenString([0x20, 0x74])` is `"Ġt"`.
///
/// Source: OpenAI GPT-2 `encoder.py` (`bytes_to_unicode`); Hugging Face tokenizers
/// `pre_tokenizers/byte_level.rs` (`bytes_char`).
public enum ByteLevel {
    /// `scalar[b]` is the Unicode scalar value standing for byte `b`.
    public static let byteToScalar: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            if printable {
                table[b] = UInt32(b)
            } else {
                table[b] = next
                next += 1
            }
        }
        return table
    }()

    /// Inverse of `byteToScalar` for scalars 0..<324; -1 where a scalar stands for no byte.
    static let scalarToByte: [Int16] = {
        var table = [Int16](repeating: -1, count: 324)
        for b in 0..<256 { table[Int(byteToScalar[b])] = Int16(b) }
        return table
    }()

    /// The 256 bytes ordered by the code point of their character: the order in which Hugging Face's
    /// `BpeTrainer` assigns ids to the initial alphabet (`compute_alphabet` sorts chars by code point).
    static let bytesInAlphabetOrder: [UInt8] = (0..<256).map { UInt8($0) }.sorted { byteToScalar[Int($0)] < byteToScalar[Int($1)] }

    /// Maps raw bytes to their byte-level token string (pure).
    ///
    /// Example: `tokenString(Array("Hi there".utf8))` is `"HiĠthere"`.
    /// - Parameter bytes: any bytes (need not be valid UTF-8).
    /// - Returns: one character per byte.
    public static func tokenString<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var scalars = String.UnicodeScalarView()
        for b in bytes { scalars.append(Unicode.Scalar(byteToScalar[Int(b)])!) }
        return String(scalars)
    }

    /// Maps a byte-level token string back to its bytes (pure).
    ///
    /// Example: `bytes(ofTokenString: "Ġt")` is `[0x20, 0x74]`.
    /// - Returns: the bytes, or `nil` if a character is not in the byte-level alphabet (e.g. an added
    ///   token such as `<|pad|>` contains only printable ASCII and does map, but `"a b"` does not).
    public static func bytes(ofTokenString token: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(token.unicodeScalars.count)
        for s in token.unicodeScalars {
            let v = Int(s.value)
            guard v < scalarToByte.count, scalarToByte[v] >= 0 else { return nil }
            out.append(UInt8(scalarToByte[v]))
        }
        return out
    }
}
