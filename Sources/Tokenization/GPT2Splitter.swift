// A hand-written equivalent of GPT-2's pre-tokenization regex, working on UTF-8 bytes.

// MARK: - Character classes

/// The four classes GPT-2's pattern distinguishes.
@usableFromInline
enum CharClass: UInt8 {
    case letter = 0  // \p{L}
    case number = 1  // \p{N}
    case space = 2   // \s (Unicode White_Space)
    case other = 3   // [^\s\p{L}\p{N}], and any invalid UTF-8 byte
}

/// Class of every BMP scalar, computed once (64 KiB) from the standard library's Unicode tables.
let bmpClasses: [UInt8] = {
    var t = [UInt8](repeating: CharClass.other.rawValue, count: 0x10000)
    for v in 0..<0x10000 {
        if let s = Unicode.Scalar(UInt32(v)) { t[v] = classOf(s).rawValue }
    }
    return t
}()

func classOf(_ s: Unicode.Scalar) -> CharClass {
    let p = s.properties
    if p.isWhitespace { return .space }
    switch p.generalCategory {
    case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
    case .decimalNumber, .letterNumber, .otherNumber: return .number
    default: return .other
    }
}

// MARK: - Splitter

/// Splits UTF-8 bytes into pre-tokens exactly as GPT-2's pattern
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` does (pure).
///
/// The alternatives are tried in order at each position, as the regex engine does: a contraction;
/// an optional U+0020 and a run of letters, numbers, or other characters; a whitespace run that stops
/// before the last whitespace character when a non-space follows; a whitespace run. Invalid UTF-8
/// bytes count as "other" characters of one byte, so any byte sequence is split losslessly.
///
/// Example: `"Hello world's  end\n"` splits into `"Hello"`, `" world"`, `"'s"`, `" "`, `" end"`, `"\n"`.
///
/// - Parameters:
///   - bytes: the text, UTF-8 (invalid sequences allowed).
///   - body: called with each piece as a half-open byte range `[start, end)`, in order; the pieces tile
///     the input.
/// Source: OpenAI GPT-2 `encoder.py`; Hugging Face tokenizers `pre_tokenizers/byte_level.rs`.
@inlinable
public func gpt2Split(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (Int, Int) -> Void) {
    let n = bytes.count
    var i = 0
    while i < n {
        let b = bytes[i]
        // 's 't 're 've 'm 'll 'd
        if b == 0x27, i + 1 < n {
            let c = bytes[i + 1]
            if c == 0x73 || c == 0x74 || c == 0x6D || c == 0x64 { body(i, i + 2); i += 2; continue }
            if i + 2 < n {
                let d = bytes[i + 2]
                if (c == 0x72 && d == 0x65) || (c == 0x76 && d == 0x65) || (c == 0x6C && d == 0x6C) {
                    body(i, i + 3); i += 3; continue
                }
            }
        }
        var (cls, len) = scanClass(bytes, i)
        var start = i
        if b == 0x20, i + 1 < n {
            let (nextCls, nextLen) = scanClass(bytes, i + 1)
            if nextCls != .space {
                // " ?X+" with the optional space.
                start = i
                i += 1
                cls = nextCls
                len = nextLen
            }
        }
        if cls != .space {
            // X+ : a run of one class.
            i += len
            while i < n {
                let (c2, l2) = scanClass(bytes, i)
                if c2 != cls { break }
                i += l2
            }
            body(start, i)
            continue
        }
        // Whitespace run [start, j); lastStart = start of its last character.
        var j = i + len
        var lastStart = i
        while j < n {
            let (c2, l2) = scanClass(bytes, j)
            if c2 != .space { break }
            lastStart = j
            j += l2
        }
        if j == n || lastStart == start {
            body(start, j)   // \s+ at the end, or a single whitespace char before a non-space
            i = j
        } else {
            body(start, lastStart)  // \s+(?!\S): leave the last whitespace char to the next piece
            i = lastStart
        }
    }
}

/// Class and byte length of the character at `i` (invalid UTF-8: `.other`, length 1).
@inlinable @inline(__always)
func scanClass(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> (CharClass, Int) {
    let b0 = p[i]
    if b0 < 0x80 { return (asciiClass(b0), 1) }
    return scanNonASCII(p, i)
}

@inlinable @inline(__always)
func asciiClass(_ b: UInt8) -> CharClass {
    // Letters A-Z a-z, digits, \t \n \v \f \r and space; everything else "other".
    if (b | 0x20) &- 0x61 < 26 { return .letter }
    if b &- 0x30 < 10 { return .number }
    if b == 0x20 || (b >= 0x09 && b <= 0x0D) { return .space }
    return .other
}

@usableFromInline
func scanNonASCII(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> (CharClass, Int) {
    let n = p.count
    let b0 = p[i]
    @inline(__always) func cont(_ k: Int) -> UInt32? {
        guard k < n else { return nil }
        let c = p[k]
        return c & 0xC0 == 0x80 ? UInt32(c & 0x3F) : nil
    }
    var v: UInt32
    var len: Int
    switch b0 {
    case 0xC2...0xDF:
        guard let c1 = cont(i + 1) else { return (.other, 1) }
        v = (UInt32(b0 & 0x1F) << 6) | c1; len = 2
    case 0xE0...0xEF:
        guard let c1 = cont(i + 1), let c2 = cont(i + 2) else { return (.other, 1) }
        v = (UInt32(b0 & 0x0F) << 12) | (c1 << 6) | c2; len = 3
        if v < 0x800 || (v >= 0xD800 && v <= 0xDFFF) { return (.other, 1) }
    case 0xF0...0xF4:
        guard let c1 = cont(i + 1), let c2 = cont(i + 2), let c3 = cont(i + 3) else { return (.other, 1) }
        v = (UInt32(b0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3; len = 4
        if v < 0x10000 || v > 0x10FFFF { return (.other, 1) }
        guard let s = Unicode.Scalar(v) else { return (.other, 1) }
        return (classOf(s), 4)
    default:
        return (.other, 1)
    }
    return (CharClass(rawValue: bmpClasses[Int(v)])!, len)
}
