import Foundation

// MARK: - JSON Lines reading (shared by the knowledge-base and QA readers)

/// One non-blank line of a JSONL file, parsed as a JSON object.
struct JSONLRecord {
    /// 1-based line number in the file.
    var line: Int
    /// The decoded object.
    var object: [String: Any]
}

enum JSONLines {
    /// Reads a JSONL file into objects, skipping blank lines.
    /// - Throws: `RetrievalError.unreadable` when the file cannot be read,
    ///   `.malformedJSON` (with the line) when a line is not a JSON object.
    static func read(_ url: URL) throws -> [JSONLRecord] {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw RetrievalError.unreadable(file: url.path, reason: "\(error.localizedDescription)")
        }
        return try parse(data, file: url.path)
    }

    /// Parses JSONL bytes into objects, skipping blank lines.
    /// - Parameters:
    ///   - data: UTF-8 text, one JSON object per line (`\n` or `\r\n`).
    ///   - file: name used in error messages.
    /// - Throws: `RetrievalError.malformedJSON` when a line is not a JSON object.
    static func parse(_ data: Data, file: String) throws -> [JSONLRecord] {
        var records: [JSONLRecord] = []
        var lineNumber = 0
        var start = data.startIndex
        while start < data.endIndex {
            lineNumber += 1
            let end = data[start...].firstIndex(of: UInt8(ascii: "\n")) ?? data.endIndex
            let lineData = data[start..<end]
            start = end < data.endIndex ? data.index(after: end) : end
            if lineData.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            let parsed: Any
            do {
                parsed = try JSONSerialization.jsonObject(with: Data(lineData), options: [])
            } catch {
                throw RetrievalError.malformedJSON(file: file, line: lineNumber, reason: "invalid JSON")
            }
            guard let object = parsed as? [String: Any] else {
                throw RetrievalError.malformedJSON(file: file, line: lineNumber, reason: "a JSON value that is not an object")
            }
            records.append(JSONLRecord(line: lineNumber, object: object))
        }
        return records
    }

    /// Renders a JSON value as metadata text: strings as they are, anything else as compact JSON.
    static func metadataText(_ value: Any) -> String {
        if let string = value as? String { return string }
        if value is NSNull { return "null" }
        if let data = try? JSONSerialization.data(withJSONObject: [value], options: [.sortedKeys]),
           var text = String(data: data, encoding: .utf8) {
            text.removeFirst()
            text.removeLast()
            return text
        }
        return "\(value)"
    }
}
