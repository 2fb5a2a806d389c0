import Foundation

// MARK: - Deterministic JSON (serde_json's pretty format)

/// A JSON value with ordered object keys, written byte-for-byte as `serde_json::to_string_pretty`
/// does (two-space indent, `"key": value`, `[]`/`{}` when empty), so our `tokenizer.json` equals what
/// Hugging Face tokenizers writes for the same tokenizer.
indirect enum JSONValue {
    case null
    case bool(Bool)
    case int(Int)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    /// The pretty-printed bytes (no trailing newline, as tokenizers' `save`).
    func prettyBytes() -> Data {
        var out = [UInt8]()
        out.reserveCapacity(1 << 16)
        write(&out, indent: 0)
        return Data(out)
    }

    private func write(_ out: inout [UInt8], indent: Int) {
        switch self {
        case .null: out.append(contentsOf: Array("null".utf8))
        case let .bool(b): out.append(contentsOf: Array((b ? "true" : "false").utf8))
        case let .int(i): out.append(contentsOf: Array(String(i).utf8))
        case let .string(s): JSONValue.writeString(s, &out)
        case let .array(items):
            if items.isEmpty { out.append(contentsOf: [0x5B, 0x5D]); return }
            out.append(0x5B)
            for (k, item) in items.enumerated() {
                out.append(contentsOf: k == 0 ? [0x0A] : [0x2C, 0x0A])
                JSONValue.pad(&out, indent + 1)
                item.write(&out, indent: indent + 1)
            }
            out.append(0x0A); JSONValue.pad(&out, indent); out.append(0x5D)
        case let .object(fields):
            if fields.isEmpty { out.append(contentsOf: [0x7B, 0x7D]); return }
            out.append(0x7B)
            for (k, field) in fields.enumerated() {
                out.append(contentsOf: k == 0 ? [0x0A] : [0x2C, 0x0A])
                JSONValue.pad(&out, indent + 1)
                JSONValue.writeString(field.0, &out)
                out.append(contentsOf: [0x3A, 0x20])
                field.1.write(&out, indent: indent + 1)
            }
            out.append(0x0A); JSONValue.pad(&out, indent); out.append(0x7D)
        }
    }

    private static func pad(_ out: inout [UInt8], _ indent: Int) {
        for _ in 0..<(indent * 2) { out.append(0x20) }
    }

    private static let hex = Array("0123456789abcdef".utf8)

    /// serde_json's escaping: `"` `\` and control characters; everything else raw UTF-8.
    static func writeString(_ s: String, _ out: inout [UInt8]) {
        out.append(0x22)
        for b in s.utf8 {
            switch b {
            case 0x22: out.append(contentsOf: [0x5C, 0x22])
            case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
            case 0x08: out.append(contentsOf: [0x5C, 0x62])
            case 0x0C: out.append(contentsOf: [0x5C, 0x66])
            case 0x0A: out.append(contentsOf: [0x5C, 0x6E])
            case 0x0D: out.append(contentsOf: [0x5C, 0x72])
            case 0x09: out.append(contentsOf: [0x5C, 0x74])
            case 0..<0x20:
                out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xF)]])
            default: out.append(b)
            }
        }
        out.append(0x22)
    }
}
