import Foundation
import JSONText

// MARK: - Parameter values

/// A resolved stage parameter value: the JSON data model, so that a value has exactly one canonical form.
///
/// Paths are kept as the string written in the pipeline file (relative paths resolve against the
/// pipeline file's directory); their *content* enters the cache key separately as an input digest.
public indirect enum ParameterValue: Sendable, Hashable {
    case int(Int)
    case float(Double)
    case bool(Bool)
    case string(String)
    case list([ParameterValue])
    case map([String: ParameterValue])
    case null

    /// Canonical JSON text of this value: sorted keys, no whitespace, shortest round-trip floats.
    ///
    /// Example: `.map(["b": .int(1), "a": .list([.float(0.5), .bool(true)])])` gives
    /// `{"a":[0.5,true],"b":1}`. The cache key hashes this text (as DVC hashes its sorted stage description).
    public var canonicalJSON: String {
        var out = ""
        writeCanonical(into: &out)
        return out
    }

    func writeCanonical(into out: inout String) {
        switch self {
        case .int(let v): out += String(v)
        case .float(let v):
            if v.isFinite, v == v.rounded(), abs(v) < 1e15 {
                out += String(format: "%.1f", v)
            } else if v.isFinite {
                out += "\(v)"
            } else {
                out += v.isNaN ? "\"NaN\"" : (v > 0 ? "\"Infinity\"" : "\"-Infinity\"")
            }
        case .bool(let v): out += v ? "true" : "false"
        case .string(let s): JSONText.appendLiteral(s, to: &out)
        case .null: out += "null"
        case .list(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.writeCanonical(into: &out)
            }
            out += "]"
        case .map(let dict):
            out += "{"
            for (i, key) in dict.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                JSONText.appendLiteral(key, to: &out)
                out += ":"
                dict[key]!.writeCanonical(into: &out)
            }
            out += "}"
        }
    }

    /// A Foundation JSON object (`NSNumber`, `String`, arrays, dictionaries, `NSNull`) for this value.
    public var jsonObject: Any {
        switch self {
        case .int(let v): return v
        case .float(let v): return v
        case .bool(let v): return v
        case .string(let v): return v
        case .null: return NSNull()
        case .list(let items): return items.map(\.jsonObject)
        case .map(let dict): return dict.mapValues(\.jsonObject)
        }
    }
}

// MARK: - Description

extension ParameterValue: CustomStringConvertible {
    public var description: String { canonicalJSON }
}
