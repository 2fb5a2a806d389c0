import Foundation

// MARK: - Formats

/// Comparison file formats understood by `PreferenceStore.importFile`.
public enum ImportFormat: String, CaseIterable, Codable, Sendable {
    /// Anthropic HH-RLHF JSONL: `{"chosen": transcript, "rejected": transcript}` (Bai et al. 2022).
    case hhRLHF = "hh-rlhf"
    /// TRL preference JSONL with an explicit prompt: `{"prompt", "chosen", "rejected"}` (strings).
    case trl = "trl"
    /// FineGrainedRLHF ASQA feedback JSONL: `question`, `prediction 1...4`, `preference` (6 ints) (Wu et al. 2023).
    case asqaFeedback = "asqa-feedback"

    /// The annotator that imported labels are attributed to, e.g. `import:hh-rlhf`.
    public var annotatorName: String { "import:\(rawValue)" }
}

/// A problem with one line of an import file.
public struct ImportIssue: Codable, Equatable, Sendable {
    /// 1-based line number.
    public var line: Int
    public var message: String
    public init(line: Int, message: String) { self.line = line; self.message = message }
}

/// One comparison parsed from a file: response A, response B, and the imported judgement (if any).
public struct ImportRecord: Equatable, Sendable {
    public var line: Int
    public var prompt: String
    public var responseA: String
    public var responseB: String
    /// `.a`, `.b` or `.tie`; never `.skip`.
    public var choice: LabelChoice
}

/// What a parse produced: valid records, invalid lines (fatal with `--strict`), and lines skipped on purpose.
public struct ParsedImport: Sendable {
    public var records: [ImportRecord] = []
    public var invalid: [ImportIssue] = []
    public var skipped: [ImportIssue] = []
    public var lines = 0
}

// MARK: - HH-RLHF split

/// The separator that starts every assistant turn in Anthropic's transcript format.
public let hhAssistantMarker = "\n\nAssistant:"

/// Splits an HH-RLHF transcript at its last `"\n\nAssistant:"`.
///
/// The prompt keeps everything up to and including that marker; the reply is the rest, verbatim (it usually
/// starts with a space), so `prompt + reply == transcript` exactly.
///
///     splitHHTranscript("\n\nHuman: Hi\n\nAssistant: Hello")
///     // -> (prompt: "\n\nHuman: Hi\n\nAssistant:", reply: " Hello")
///
/// - Returns: `nil` when the transcript has no `"\n\nAssistant:"`.
/// - Source: anthropics/hh-rlhf README; TRL `extract_prompt` for the same convention.
public func splitHHTranscript(_ transcript: String) -> (prompt: String, reply: String)? {
    guard let r = transcript.range(of: hhAssistantMarker, options: .backwards) else { return nil }
    return (String(transcript[..<r.upperBound]), String(transcript[r.upperBound...]))
}

// MARK: - Parsing

/// Parses a comparison file without touching the database.
///
/// Lines are split at `\n`; blank lines are ignored. A line is invalid (reported with its number) when it is not
/// UTF-8, not a JSON object, lacks a key, has a value of the wrong type, or contains NUL (PostgreSQL `text`
/// cannot store it). A line is skipped (reported, not an error) when it is valid but cannot form a comparison:
/// identical replies, or HH-RLHF sides whose prompts differ (5 of the 1,850 lines of the shipped harmless-base file).
/// - Parameters:
///   - data: the file's bytes.
///   - format: the file's format.
public func parseImport(_ data: Data, format: ImportFormat) -> ParsedImport {
    var out = ParsedImport()
    var lineNumber = 0
    var start = data.startIndex
    let bytes = [UInt8](data)
    var i = 0
    func handle(_ slice: ArraySlice<UInt8>, line: Int) {
        if slice.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return }
        out.lines += 1
        guard let text = String(validating: slice, as: UTF8.self) else {
            let offset = firstInvalidUTF8Offset(slice)
            out.invalid.append(ImportIssue(line: line, message: "invalid UTF-8 at byte \(offset) of the line; re-encode the file as UTF-8"))
            return
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            out.invalid.append(ImportIssue(line: line, message: "not a JSON object; each line must be one {...} object"))
            return
        }
        do {
            let records = try parseObject(object, format: format, line: line)
            for r in records {
                if r.responseA == r.responseB {
                    out.skipped.append(ImportIssue(line: line, message: "the two replies are identical; nothing to compare"))
                } else {
                    out.records.append(r)
                }
            }
        } catch let issue as ImportIssue {
            if issue.message.hasPrefix("skipped: ") {
                out.skipped.append(ImportIssue(line: line, message: String(issue.message.dropFirst(9))))
            } else {
                out.invalid.append(issue)
            }
        } catch {
            out.invalid.append(ImportIssue(line: line, message: "\(error)"))
        }
    }
    while i < bytes.count {
        if bytes[i] == 0x0A {
            lineNumber += 1
            handle(bytes[start..<i], line: lineNumber)
            start = i + 1
        }
        i += 1
    }
    if start < bytes.count {
        lineNumber += 1
        handle(bytes[start..<bytes.count], line: lineNumber)
    }
    return out
}

extension ImportIssue: Error {}

private func string(_ object: [String: Any], _ key: String, line: Int, format: ImportFormat) throws -> String {
    guard let value = object[key] else {
        throw ImportIssue(line: line, message: "missing key \"\(key)\" (format \(format.rawValue) needs it; see annotations/schemas/)")
    }
    guard let s = value as? String else {
        throw ImportIssue(line: line, message: "\"\(key)\" must be a string")
    }
    if s.utf8.contains(0) {
        throw ImportIssue(line: line, message: "\"\(key)\" contains a NUL character, which PostgreSQL text cannot store; remove it")
    }
    return s
}

private func parseObject(_ object: [String: Any], format: ImportFormat, line: Int) throws -> [ImportRecord] {
    switch format {
    case .hhRLHF:
        let chosen = try string(object, "chosen", line: line, format: format)
        let rejected = try string(object, "rejected", line: line, format: format)
        guard let c = splitHHTranscript(chosen) else {
            throw ImportIssue(line: line, message: "\"chosen\" has no \"\\n\\nAssistant:\" turn")
        }
        guard let r = splitHHTranscript(rejected) else {
            throw ImportIssue(line: line, message: "\"rejected\" has no \"\\n\\nAssistant:\" turn")
        }
        guard c.prompt == r.prompt else {
            throw ImportIssue(line: line, message: "skipped: chosen and rejected differ before their last \"\\n\\nAssistant:\" (replies to different conversations)")
        }
        return [ImportRecord(line: line, prompt: c.prompt, responseA: c.reply, responseB: r.reply, choice: .a)]
    case .trl:
        let prompt = try string(object, "prompt", line: line, format: format)
        let chosen = try string(object, "chosen", line: line, format: format)
        let rejected = try string(object, "rejected", line: line, format: format)
        return [ImportRecord(line: line, prompt: prompt, responseA: chosen, responseB: rejected, choice: .a)]
    case .asqaFeedback:
        let question = try string(object, "question", line: line, format: format)
        let predictions = try (1...4).map { try string(object, "prediction \($0)", line: line, format: format) }
        guard let preference = object["preference"] as? [Any], preference.count == 6 else {
            throw ImportIssue(line: line, message: "\"preference\" must be an array of 6 integers (pairs 1v2, 1v3, 1v4, 2v3, 2v4, 3v4)")
        }
        let pairs = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
        var records: [ImportRecord] = []
        for (k, (i, j)) in pairs.enumerated() {
            guard let v = preference[k] as? Int, (0...2).contains(v) else {
                throw ImportIssue(line: line, message: "\"preference\"[\(k)] must be 0 (no preference), 1 or 2")
            }
            let choice: LabelChoice = v == 1 ? .a : v == 2 ? .b : .tie
            records.append(ImportRecord(line: line, prompt: question, responseA: predictions[i], responseB: predictions[j], choice: choice))
        }
        return records
    }
}

/// Byte offset (0-based) of the first byte that breaks UTF-8 decoding.
private func firstInvalidUTF8Offset(_ slice: ArraySlice<UInt8>) -> Int {
    var decoder = UTF8()
    var iterator = slice.makeIterator()
    var offset = 0
    while true {
        switch decoder.decode(&iterator) {
        case .scalarValue(let s): offset += UTF8.width(s)
        case .emptyInput: return offset
        case .error: return offset
        }
    }
}
