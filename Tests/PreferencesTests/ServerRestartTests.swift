import Foundation
import Logging
import XCTest
@testable import Preferences

/// Restarts a private PostgreSQL (deploy/local-postgres.sh) in the middle of a labelling session.
final class ServerRestartTests: XCTestCase {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("deploy/local-postgres.sh")

    @discardableResult
    func run(_ args: [String]) throws -> String {
        let r = try runProcess("/bin/bash", [Self.script.path] + args)
        guard r.status == 0 else { throw PreferenceError.io(path: Self.script.path, message: "\(args) exited with \(r.status)") }
        return r.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testLabelWrittenDuringRestartIsStoredOnce() throws {
        guard ProcessInfo.processInfo.environment["RLHF_DATABASE_URL"] != nil else {
            throw XCTSkip("RLHF_DATABASE_URL is not set (this test starts its own server but needs the PostgreSQL binaries CI has)")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pg-restart-\(UUID().uuidString.prefix(8))")
        // A random port; try another if it is taken.
        var port = 0, started: String?
        for _ in 0..<3 where started == nil {
            port = 56000 + Int.random(in: 0..<900)
            started = try? run(["start", dir.path, "\(port)"])
            if started == nil { _ = try? run(["stop", dir.path]) }
        }
        let url = try XCTUnwrap(started, "could not start a private PostgreSQL with deploy/local-postgres.sh")
        let serverPort = port
        defer { _ = try? run(["stop", dir.path]); try? FileManager.default.removeItem(at: dir) }

        let store = try PreferenceStore(url: url, logger: Logger(label: "restart"),
                                        retry: RetryPolicy(maxAttempts: 60, initialDelay: 0.05, maxDelay: 0.5))
        try store.migrate()
        let g = { (t: String) in GeneratedResponse(text: t, modelDigest: "d", generationParams: [:]) }
        _ = try store.enqueueComparisons(dataset: "r", pairs: [(prompt: "p1", a: g("x"), b: g("y")), (prompt: "p2", a: g("u"), b: g("v"))])
        let a = try XCTUnwrap(try store.nextAssignment(annotator: "ann", dataset: "r"))

        try run(["stop", dir.path])
        let restarted = expectation(description: "server back")
        DispatchQueue.global().asyncAfter(deadline: .now() + 1.5) {
            _ = try? self.run(["start", dir.path, "\(serverPort)"])
            restarted.fulfill()
        }
        // Written while the server is down: retried with backoff until it is back, then stored.
        let label = LabelSubmission(comparisonId: a.comparisonId, annotator: "ann", choice: .b, shownFirst: .a)
        XCTAssertTrue(try store.submitLabel(label))
        wait(for: [restarted], timeout: 60)
        // The client retries again (e.g. it never saw the commit): still one row.
        XCTAssertFalse(try store.submitLabel(label))
        let next = try XCTUnwrap(try store.nextAssignment(annotator: "ann", dataset: "r"))
        XCTAssertNotEqual(next.comparisonId, a.comparisonId)
        let snap = try store.snapshot(dataset: "r")
        XCTAssertEqual(snap.pairs.map(\.chosen), ["y"])
        XCTAssertEqual(try store.stats(dataset: "r").first?.choices.b, 1)
    }
}
