// MARK: - Terminal layout for `rlhf label`

/// Display width of a character in terminal columns: 2 for East Asian wide and emoji, 0 for combining marks,
/// 1 otherwise (a small subset of Unicode's East_Asian_Width and wcwidth, enough for layout).
public func terminalWidth(_ c: Character) -> Int {
    guard let s = c.unicodeScalars.first else { return 0 }
    let v = s.value
    if c.unicodeScalars.allSatisfy({ $0.properties.generalCategory == .nonspacingMark || $0.properties.generalCategory == .enclosingMark }) { return 0 }
    let wide: [ClosedRange<UInt32>] = [0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF,
                                       0xA000...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60,
                                       0xFFE0...0xFFE6, 0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0x20000...0x3FFFD]
    return wide.contains { $0.contains(v) } ? 2 : 1
}

/// Makes text safe to draw: tabs become spaces (to the next multiple of 4), other control characters
/// (ESC, BEL, CR...) become a visible `^X` / `U+XXXX` so text can never move the cursor or change colours.
public func sanitizeForTerminal(_ text: String) -> String {
    var out = ""
    var column = 0
    for c in text {
        if c == "\n" { out.append(c); column = 0; continue }
        if c == "\t" { let n = 4 - column % 4; out += String(repeating: " ", count: n); column += n; continue }
        if let s = c.unicodeScalars.first, c.unicodeScalars.count == 1, s.properties.generalCategory == .control || s.properties.generalCategory == .format && s.value >= 0x200E && s.value <= 0x202E {
            let shown = s.value < 0x20 ? "^" + String(UnicodeScalar(UInt8(s.value + 0x40))) : s.value == 0x7F ? "^?" : "<U+\(String(s.value, radix: 16, uppercase: true))>"
            out += shown; column += shown.count; continue
        }
        out.append(c)
        column += terminalWidth(c)
    }
    return out
}

/// Word-wraps text to `width` columns: paragraphs at `\n`, breaks at spaces, hard breaks inside words longer
/// than a line. Worked example: `wrapText("aa bb cc", width: 5)` -> `["aa bb", "cc"]`.
/// - Parameter width: columns (at least 1).
public func wrapText(_ text: String, width: Int) -> [String] {
    let width = max(1, width)
    var lines: [String] = []
    for paragraph in sanitizeForTerminal(text).split(separator: "\n", omittingEmptySubsequences: false) {
        var line = "", lineWidth = 0
        var word = "", wordWidth = 0
        func flushWord() {
            if wordWidth == 0 && word.isEmpty { return }
            if lineWidth > 0 && lineWidth + 1 + wordWidth > width {
                lines.append(line); line = ""; lineWidth = 0
            }
            if lineWidth > 0 { line += " "; lineWidth += 1 }
            for c in word {
                let w = terminalWidth(c)
                if lineWidth + w > width { lines.append(line); line = ""; lineWidth = 0 }
                line.append(c); lineWidth += w
            }
            word = ""; wordWidth = 0
        }
        for c in paragraph {
            if c == " " { flushWord() }
            else { word.append(c); wordWidth += terminalWidth(c) }
        }
        flushWord()
        lines.append(line)
    }
    return lines
}

/// Pads or truncates `s` to exactly `width` columns.
public func fitToWidth(_ s: String, _ width: Int) -> String {
    var out = "", used = 0
    for c in s {
        let w = terminalWidth(c)
        if used + w > width { break }
        out.append(c); used += w
    }
    return out + String(repeating: " ", count: max(0, width - used))
}

/// What the labelling screen shows; `render` lays it out for a terminal size.
public struct LabelScreen: Sendable {
    public var title: String
    /// Comparison texts; `nil` when nothing is left to label.
    public var prompt: String?
    public var first: String?
    public var second: String?
    public var help: String?
    public var showHelp = false
    public var page = 0
    public var message = ""
    public var progress: LabelProgress?

    public init(title: String) { self.title = title }

    /// The keys line.
    public static let keys = "a/1 first  b/2 second  t tie  s skip  u undo  ? help  q quit  space/p page"

    /// Body lines (before paging) for a width.
    public func bodyLines(width: Int) -> [String] {
        if showHelp { return wrapText(help ?? "No guidelines found (annotations/guidelines.md).", width: width) }
        guard let prompt, let first, let second else {
            return ["", "Nothing left to label in this dataset for you. Press q to quit."]
        }
        var lines = ["── PROMPT ──"]
        lines += wrapText(prompt, width: width)
        lines += ["", "── [1] FIRST RESPONSE ──"]
        lines += wrapText(first, width: width)
        lines += ["", "── [2] SECOND RESPONSE ──"]
        lines += wrapText(second, width: width)
        return lines
    }

    /// Number of pages for a terminal size.
    public func pageCount(width: Int, height: Int) -> Int {
        let body = max(1, height - 4)
        return max(1, (bodyLines(width: width).count + body - 1) / body)
    }

    /// The screen as exactly `height` lines of exactly `width` columns: title, rule, body page, status, keys.
    /// - Parameters:
    ///   - width: terminal columns (80 on a standard terminal).
    ///   - height: terminal rows (24); at least 5 are needed for a body line.
    public func render(width: Int, height: Int) -> [String] {
        let width = max(20, width), height = max(5, height)
        let bodyHeight = height - 4
        let all = bodyLines(width: width)
        let pages = pageCount(width: width, height: height)
        let p = min(max(0, page), pages - 1)
        var body = Array(all.dropFirst(p * bodyHeight).prefix(bodyHeight))
        body += Array(repeating: "", count: bodyHeight - body.count)
        var status = message
        if let progress { status = "labelled \(progress.labelled), remaining \(progress.remaining)" + (message.isEmpty ? "" : " | \(message)") }
        let pageInfo = " [page \(p + 1)/\(pages)]"
        return [fitToWidth(title, width), String(repeating: "─", count: width)]
            + body.map { fitToWidth($0, width) }
            + [fitToWidth(status, width - pageInfo.count) + pageInfo, fitToWidth(Self.keys, width)]
    }
}
