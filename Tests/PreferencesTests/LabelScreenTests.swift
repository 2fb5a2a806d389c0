import XCTest
@testable import Preferences

/// Layout of the labelling screen: wrapping, paging, sanitising, fitting 80x24.
final class LabelScreenTests: XCTestCase {
    func testWrapBreaksAtSpacesAndHardBreaksLongWords() {
        XCTAssertEqual(wrapText("aa bb cc", width: 5), ["aa bb", "cc"])
        XCTAssertEqual(wrapText("abcdefgh", width: 3), ["abc", "def", "gh"])
        XCTAssertEqual(wrapText("x\n\ny", width: 10), ["x", "", "y"])
        XCTAssertEqual(wrapText("长长长", width: 4), ["长长", "长"], "wide characters take two columns")
    }

    func testControlCharactersCannotReachTheTerminal() {
        let s = sanitizeForTerminal("red\u{1B}[31m bell\u{7} cr\r tab\tx \u{202E}rtl")
        XCTAssertFalse(s.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x202E })
        XCTAssertTrue(s.contains("^[[31m"))
        XCTAssertTrue(s.contains("<U+202E>"))
    }

    func testRenderFillsExactly80x24AndPages() {
        var screen = LabelScreen(title: "t")
        screen.prompt = "p"
        screen.first = String(repeating: "word ", count: 600)
        screen.second = "short"
        let pages = screen.pageCount(width: 80, height: 24)
        XCTAssertGreaterThan(pages, 1)
        var seen: [String] = []
        for p in 0..<pages {
            screen.page = p
            let lines = screen.render(width: 80, height: 24)
            XCTAssertEqual(lines.count, 24)
            XCTAssertTrue(lines.allSatisfy { $0.reduce(0) { $0 + terminalWidth($1) } == 80 })
            XCTAssertTrue(lines[22].hasSuffix("[page \(p + 1)/\(pages)]"))
            seen += lines[2..<22].map { $0.trimmingCharacters(in: .whitespaces) }
        }
        // Every body line appears on some page, in order.
        XCTAssertEqual(Array(seen.prefix(screen.bodyLines(width: 80).count)), screen.bodyLines(width: 80).map { $0.trimmingCharacters(in: .whitespaces) })
    }
}
