import Foundation
import XCTest
@testable import Preferences

/// `rlhf label` driven through a real pseudo-terminal (tmux): keys, undo, paging, guidelines, resize, quit.
final class LabelTerminalTests: XCTestCase {
    var db: TestDatabase!
    var socket = "rlhf-test-\(UUID().uuidString.prefix(8))"

    override func setUpWithError() throws { db = try TestDatabase.make() }
    override func tearDown() {
        _ = try? runProcess(tmuxPath ?? "/usr/bin/tmux", ["-L", socket, "kill-server"])
        db?.drop()
    }

    var tmuxPath: String? { ["/usr/bin/tmux", "/usr/local/bin/tmux", "/opt/homebrew/bin/tmux"].first { FileManager.default.isExecutableFile(atPath: $0) } }

    /// The `rlhf` executable built next to this test bundle.
    var rlhfBinary: String? {
        let path = Bundle.module.bundleURL.deletingLastPathComponent().appendingPathComponent("rlhf").path
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    func tmux(_ args: [String]) throws -> String { try runProcess(tmuxPath!, ["-L", socket] + args).output }

    func screen() throws -> [String] {
        try tmux(["capture-pane", "-p", "-t", "s"]).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    /// Polls the pane until `predicate` holds (10 s), then returns the screen.
    @discardableResult
    func waitFor(_ what: String, file: StaticString = #filePath, line: UInt = #line, _ predicate: ([String]) -> Bool) throws -> [String] {
        var lines: [String] = []
        for _ in 0..<100 {
            lines = try screen()
            if predicate(lines) { return lines }
            Thread.sleep(forTimeInterval: 0.1)
        }
        XCTFail("timed out waiting for \(what); screen:\n\(lines.joined(separator: "\n"))", file: file, line: line)
        throw XCTSkip("aborting after timeout")
    }

    @discardableResult
    func waitFor(text: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String] {
        try waitFor("\"\(text)\"", file: file, line: line) { $0.contains { $0.contains(text) } }
    }

    func send(_ key: String) throws { _ = try tmux(["send-keys", "-t", "s", "-l", key]) }

    func testKeysUndoPagingHelpResizeAndQuit() throws {
        guard tmuxPath != nil else { throw XCTSkip("tmux is not installed (apt-get install tmux)") }
        guard let rlhf = rlhfBinary else { throw XCTSkip("the rlhf executable is not built next to the tests; run swift build first") }
        let store = try db.store()
        let long = (1...400).map { "word\($0)" }.joined(separator: " ")
        let rows = [["prompt": "First prompt?", "chosen": "alpha reply", "rejected": "beta reply"],
                    ["prompt": "Second prompt?", "chosen": "gamma reply", "rejected": "delta reply"],
                    ["prompt": "Long prompt?", "chosen": long, "rejected": "short reply"]]
        let file = try temporaryFile(rows.map { jsonLine($0) }.joined(separator: "\n"))
        _ = try store.importFile(file, format: .trl, dataset: "d", unlabeled: true, strict: true)
        let guidelines = try temporaryFile("# Test guidelines heading\nJudge carefully.", name: "guidelines.md")

        let command = "env RLHF_DATABASE_URL='\(db.url)' '\(rlhf)' label --annotator alice --dataset d --guidelines '\(guidelines.path)'; echo EXIT=$?; sleep 60"
        _ = try tmux(["new-session", "-d", "-s", "s", "-x", "80", "-y", "24", command])

        // 80x24 layout.
        var lines = try waitFor(text: "comparison #1")
        XCTAssertEqual(lines.prefix(24).count, 24)
        XCTAssertEqual(lines[1], String(repeating: "─", count: 80))
        XCTAssertTrue(lines.contains { $0.contains("First prompt?") })
        XCTAssertTrue(lines.contains { $0.contains("labelled 0, remaining 3") })

        // "1" = the response shown first is better, in stored sides.
        let firstIndex = try XCTUnwrap(lines.firstIndex { $0.contains("[1] FIRST RESPONSE") })
        let shownFirst = lines[firstIndex + 1].hasPrefix("alpha") ? "a" : "b"
        try send("1")
        lines = try waitFor(text: "comparison #2")
        XCTAssertTrue(lines.contains { $0.contains("saved #1: first better") })
        var r = try db.query("SELECT choice, shown_first FROM labels WHERE comparison_id = 1")
        XCTAssertEqual(r.string(0, 0), shownFirst)
        XCTAssertEqual(r.string(0, 1), shownFirst)

        // Tie, then undo it: the comparison comes back and the undo is a superseding row.
        try send("t")
        try waitFor(text: "comparison #3")
        try send("u")
        lines = try waitFor(text: "undid your label on #2")
        XCTAssertTrue(lines.contains { $0.contains("Second prompt?") })
        r = try db.query("SELECT count(*), count(*) FILTER (WHERE supersedes IS NOT NULL) FROM labels WHERE comparison_id = 2")
        XCTAssertEqual(r.int(0, 0), 2)
        XCTAssertEqual(r.int(0, 1), 1)
        try send("s")

        // The long comparison is paged.
        // Wait for the whole frame: the body can be drawn before the status line is (a capture between the
        // two showed the previous comparison's "[page 1/1]"); a timeout here fails the test.
        lines = try waitFor("the long comparison with a multi-page status") { screen in
            screen.contains { $0.contains("Long prompt?") }
                && screen.contains { $0.contains("[page 1/") && !$0.contains("[page 1/1]") }
        }
        let pages = try XCTUnwrap(lines.last { $0.contains("[page 1/") })
        XCTAssertFalse(pages.contains("[page 1/1]"), pages)
        try send(" ")
        try waitFor(text: "[page 2/")

        // Resize to 100x30: the layout follows (SIGWINCH).
        _ = try tmux(["resize-window", "-t", "s", "-x", "100", "-y", "30"])
        lines = try waitFor("a 100-column rule") { $0.count >= 2 && $0[1] == String(repeating: "─", count: 100) }

        // Guidelines and back.
        try send("?")
        try waitFor(text: "Test guidelines heading")
        try send("?")
        try waitFor(text: "Long prompt?")

        // Quit: exit status 0, the lease on the open comparison is released.
        try send("q")
        try waitFor(text: "EXIT=0")
        XCTAssertEqual(try db.query("SELECT count(*) FROM assignments WHERE completed_at IS NULL").int(0, 0), 0)
        let effective = try db.query("SELECT comparison_id, choice FROM effective_labels ORDER BY comparison_id")
        XCTAssertEqual(effective.rowCount, 2)
        XCTAssertEqual(effective.string(1, 1), "skip")
    }
}
