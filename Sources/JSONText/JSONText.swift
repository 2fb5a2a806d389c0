// JSON string literals for the hand-written JSON of the project (safetensors headers, metric lines,
// canonical parameter JSON behind cache keys): one escaping rule, so those bytes stay stable.

// MARK: - String literals

/// JSON text helpers (no Foundation: a dependency-free target every other target can use).
public enum JSONText {
    /// Appends `s` as a JSON string literal to `out`: `"`, `\` and the control characters U+0000–U+001F
    /// are escaped (`\"`, `\\`, `\n`, `\r`, `\t`, others as `\u00XX` in lower-case hex), everything else,
    /// `/` and non-ASCII included, is copied as is. The output is stable: cache keys hash it.
    /// - Parameters:
    ///   - s: the string to quote.
    ///   - out: the text to append to (side effect).
    /// - Source: RFC 8259 §7 (Strings).
    public static func appendLiteral(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20:
                let hex = String(c.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    /// `s` as a JSON string literal (see `appendLiteral(_:to:)`), e.g. `a"b` → `"a\"b"`.
    /// - Parameter s: the string to quote.
    /// - Returns: the quoted, escaped text.
    public static func literal(_ s: String) -> String {
        var out = ""
        appendLiteral(s, to: &out)
        return out
    }
}
