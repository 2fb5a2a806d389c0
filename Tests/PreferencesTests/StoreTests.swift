import Foundation
import Logging
import XCTest
@testable import Preferences

/// The store against a real PostgreSQL (skipped without RLHF_DATABASE_URL): migrations, import, snapshot, labels.
final class StoreTests: XCTestCase {
    var db: TestDatabase!

    override func setUpWithError() throws { db = try TestDatabase.make() }
    override func tearDown() { db?.drop() }

    func fixtureURL(_ name: String) throws -> URL {
        try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: "jsonl", subdirectory: "Fixtures"))
    }

    func testMigrateIsIdempotentAndRecorded() throws {
        let store = try PreferenceStore(url: db.url, logger: Logger(label: "test"))
        XCTAssertEqual(try store.appliedMigrations(), [])
        XCTAssertEqual(try store.migrate(), [1])
        XCTAssertEqual(try store.migrate(), [])
        XCTAssertEqual(try store.appliedMigrations(), [1])
        let r = try db.query("SELECT name FROM schema_migrations")
        XCTAssertEqual(r.string(0, 0), "comparisons-and-labels")
    }

    func testUnreachableServerErrorNamesLocationWithoutPassword() throws {
        let url = "postgresql://rlhf:s3cret@127.0.0.1:1/nodb?connect_timeout=2"
        XCTAssertThrowsError(try PreferenceStore(url: url, logger: Logger(label: "test"))) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("127.0.0.1:1/nodb"), text)
            XCTAssertTrue(text.contains("deploy/local-postgres.sh"), text)
            XCTAssertFalse(text.contains("s3cret"), text)
        }
    }

    func testHHImportIsIdempotentAndSnapshotMatchesFile() throws {
        let store = try db.store()
        let url = try fixtureURL("hh-slice")
        let first = try store.importFile(url, format: .hhRLHF, dataset: "hh", unlabeled: false, strict: true)
        XCTAssertEqual(first.comparisonsAdded, 13)
        XCTAssertEqual(first.labelsAdded, 13)
        XCTAssertEqual(first.skipped.map(\.line), [14])
        let again = try store.importFile(url, format: .hhRLHF, dataset: "hh", unlabeled: false, strict: true)
        XCTAssertEqual(again.comparisonsAdded, 0)
        XCTAssertEqual(again.labelsAdded, 0)
        XCTAssertEqual(again.comparisonsExisting, 13)
        XCTAssertEqual(try db.query("SELECT count(*) FROM labels").int(0, 0), 13)

        let snap = try store.snapshot(dataset: "hh")
        XCTAssertEqual(snap.pairs.count, 13)
        let parsed = parseImport(try Data(contentsOf: url), format: .hhRLHF)
        for (pair, record) in zip(snap.pairs, parsed.records) {
            XCTAssertEqual(pair.prompt, record.prompt)
            XCTAssertEqual(pair.chosen, record.responseA)
            XCTAssertEqual(pair.rejected, record.responseB)
            XCTAssertNil(pair.margin)
        }
        XCTAssertEqual(snap.pairs.map(\.comparisonId), snap.pairs.map(\.comparisonId).sorted())
        XCTAssertEqual(try store.snapshot(dataset: "hh").digest, snap.digest, "same rows, same digest")
        XCTAssertEqual(try store.prompts(dataset: "hh", limit: 3), Array(parsed.records.prefix(3).map(\.prompt)))

        // Write, read back, and detect tampering.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("snap-\(UUID().uuidString).json")
        try snap.write(to: file)
        XCTAssertEqual(try ComparisonSnapshot.read(from: file), snap)
        var tampered = try String(contentsOf: file, encoding: .utf8)
        tampered = tampered.replacingOccurrences(of: "\"comparisonId\":1,", with: "\"comparisonId\":99,")
        try tampered.write(to: file, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ComparisonSnapshot.read(from: file)) { error in
            guard case PreferenceError.corruptSnapshot = error else { return XCTFail("\(error)") }
        }
    }

    func testStrictImportIsAllOrNothing() throws {
        let store = try db.store()
        let text = jsonLine(["prompt": "p1", "chosen": "x", "rejected": "y"]) + "\n{broken\n"
            + jsonLine(["prompt": "p2", "chosen": "x", "rejected": "y"]) + "\n"
        let url = try temporaryFile(text)
        XCTAssertThrowsError(try store.importFile(url, format: .trl, dataset: "d", unlabeled: false, strict: true)) { error in
            guard case let PreferenceError.invalidImport(_, issues) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(issues.map(\.line), [2])
            XCTAssertTrue("\(error)".contains("input.jsonl:2:"))
        }
        XCTAssertEqual(try db.query("SELECT count(*) FROM comparisons").int(0, 0), 0)
        let lenient = try store.importFile(url, format: .trl, dataset: "d", unlabeled: false, strict: false)
        XCTAssertEqual(lenient.comparisonsAdded, 2)
        XCTAssertEqual(lenient.invalid.map(\.line), [2])
    }

    func testASQAImportTiesAndPolicies() throws {
        let store = try db.store()
        let report = try store.importFile(try fixtureURL("asqa-slice"), format: .asqaFeedback, dataset: "asqa", unlabeled: false, strict: true)
        let parsed = parseImport(try Data(contentsOf: try fixtureURL("asqa-slice")), format: .asqaFeedback)
        XCTAssertEqual(report.labelsAdded, parsed.records.count)
        let ties = parsed.records.filter { $0.choice == .tie }.count
        XCTAssertGreaterThan(ties, 0)
        let dropped = try store.snapshot(dataset: "asqa", ties: .drop)
        let kept = try store.snapshot(dataset: "asqa", ties: .margin0)
        XCTAssertEqual(dropped.pairs.count, parsed.records.count - ties)
        XCTAssertEqual(kept.pairs.count, parsed.records.count)
        XCTAssertEqual(kept.pairs.filter { $0.margin == 0 }.count, ties)
        XCTAssertNotEqual(dropped.digest, kept.digest)
        // A "2" preference puts the second prediction first.
        let b = try XCTUnwrap(parsed.records.first { $0.choice == .b })
        XCTAssertTrue(dropped.pairs.contains { $0.chosen == b.responseB && $0.rejected == b.responseA && $0.prompt == b.prompt })
    }

    func testLabelsChangeDigestAndUndoRestoresIt() throws {
        let store = try db.store()
        let url = try temporaryFile([jsonLine(["prompt": "p1", "chosen": "x", "rejected": "y"]),
                                     jsonLine(["prompt": "p2", "chosen": "u", "rejected": "v"])].joined(separator: "\n"))
        _ = try store.importFile(url, format: .trl, dataset: "d", unlabeled: true, strict: true)
        try store.ensureDataset("d", overlap: 3)
        let empty = try store.snapshot(dataset: "d")
        XCTAssertEqual(empty.pairs, [])

        let first = try XCTUnwrap(try store.nextAssignment(annotator: "ann", dataset: "d"))
        XCTAssertEqual(first.prompt, "p1")
        XCTAssertTrue(try store.submitLabel(LabelSubmission(comparisonId: first.comparisonId, annotator: "ann", choice: .b, shownFirst: .b)))
        let one = try store.snapshot(dataset: "d")
        XCTAssertEqual(one.pairs.map(\.chosen), ["y"])
        XCTAssertNotEqual(one.digest, empty.digest)

        // A second annotator says "a": 1-1 is a tie.
        let other = try XCTUnwrap(try store.nextAssignment(annotator: "bob", dataset: "d"))
        XCTAssertEqual(other.comparisonId, first.comparisonId)
        try store.submitLabel(LabelSubmission(comparisonId: other.comparisonId, annotator: "bob", choice: .a))
        XCTAssertEqual(try store.snapshot(dataset: "d").pairs, [])
        XCTAssertEqual(try store.snapshot(dataset: "d", ties: .margin0).pairs.first?.margin, 0)

        // bob undoes: back to ann's label alone, same digest as before.
        let undone = try XCTUnwrap(try store.undoLastLabel(annotator: "bob", dataset: "d"))
        XCTAssertEqual(undone.comparisonId, first.comparisonId)
        XCTAssertEqual(try store.snapshot(dataset: "d").digest, one.digest)
        XCTAssertEqual(try db.query("SELECT count(*) FROM labels").int(0, 0), 3, "append-only: the undo is a new row")
        XCTAssertThrowsError(try db.query("DELETE FROM labels"), "labels are append-only")
        XCTAssertEqual(try store.progress(annotator: "bob", dataset: "d"), LabelProgress(labelled: 0, remaining: 2))
        XCTAssertEqual(try store.progress(annotator: "ann", dataset: "d"), LabelProgress(labelled: 1, remaining: 1))
    }

    func testRetriedSubmissionIsStoredOnce() throws {
        let store = try db.store()
        _ = try store.enqueueComparisons(dataset: "d", pairs: [(prompt: "p", a: gen("x"), b: gen("y"))])
        let a = try XCTUnwrap(try store.nextAssignment(annotator: "ann", dataset: "d"))
        let label = LabelSubmission(comparisonId: a.comparisonId, annotator: "ann", choice: .tie)
        XCTAssertTrue(try store.submitLabel(label))
        XCTAssertFalse(try store.submitLabel(label), "same label id: already stored")
        XCTAssertEqual(try db.query("SELECT count(*) FROM labels").int(0, 0), 1)
    }

    func gen(_ text: String, seed: Double = 1) -> GeneratedResponse {
        GeneratedResponse(text: text, modelDigest: "sha256:abc", generationParams: ["temperature": 0.7, "seed": seed])
    }

    func testEnqueueRecordsModelOriginAndIsIdempotent() throws {
        let store = try db.store()
        let pairs = [(prompt: "p1", a: gen("x"), b: gen("y", seed: 2)), (prompt: "p1", a: gen("x"), b: gen("z")),
                     (prompt: "p2", a: gen("same"), b: gen("same"))]
        XCTAssertEqual(try store.enqueueComparisons(dataset: "s", pairs: pairs), 2)
        XCTAssertEqual(try store.enqueueComparisons(dataset: "s", pairs: pairs), 0)
        let r = try db.query("SELECT origin, model_digest, generation_params->>'seed' FROM responses r JOIN prompts p ON p.id = r.prompt_id WHERE r.text = 'y'")
        XCTAssertEqual(r.string(0, 0), "model")
        XCTAssertEqual(r.string(0, 1), "sha256:abc")
        XCTAssertEqual(r.string(0, 2), "2")
        XCTAssertEqual(try store.prompts(dataset: "s", limit: nil), ["p1"])
    }

    /// Injection-looking text, quotes, control characters, every Unicode plane and a long response round-trip
    /// verbatim through COPY import, snapshot, export-file and parameterised paths.
    func testUnicodeAndInjectionRoundTrip() throws {
        let store = try db.store()
        // One scalar from every Unicode plane (0...16), plus CJK and U+FFFD from the BMP.
        var planes = "A\u{4E2D}\u{FFFD}"
        for plane: UInt32 in 1...16 {
            if let scalar = Unicode.Scalar((plane << 16) | 0x0100) { planes.unicodeScalars.append(scalar) }
        }
        let nasty = [
            "Robert'); DROP TABLE labels;-- \"quoted\" \\backslash\\ \\. \\N",
            "tab\tnewline\nreturn\r bell\u{7} esc\u{1B}[31m vt\u{0B} del\u{7F} \u{1}\u{1F}",
            planes + " 👩‍👩‍👧 e\u{301} \u{202E}rtl \u{FEFF}bom \u{10FFFF}",
            String(repeating: "long ü 长 ", count: 40_000),
            "$1 $2 %s %n {{x}} E'\\x00' $$dollar$$",
        ]
        var lines: [String] = []
        for (i, p) in nasty.enumerated() {
            lines.append(jsonLine(["prompt": p, "chosen": nasty[(i + 1) % nasty.count] + "c", "rejected": nasty[(i + 2) % nasty.count] + "r"]))
        }
        let url = try temporaryFile(lines.joined(separator: "\n"))
        let report = try store.importFile(url, format: .trl, dataset: "u", unlabeled: false, strict: true)
        XCTAssertEqual(report.comparisonsAdded, nasty.count)
        let snap = try store.snapshot(dataset: "u")
        XCTAssertEqual(snap.pairs.map(\.prompt), nasty)
        for (i, pair) in snap.pairs.enumerated() {
            XCTAssertEqual(pair.chosen, nasty[(i + 1) % nasty.count] + "c")
            XCTAssertEqual(pair.rejected, nasty[(i + 2) % nasty.count] + "r")
        }
        // Parameterised (non-COPY) path: generated responses and the assignment read-back.
        XCTAssertEqual(try store.enqueueComparisons(dataset: "u2", pairs: [(prompt: nasty[0], a: gen(nasty[1]), b: gen(nasty[2]))]), 1)
        let a = try XCTUnwrap(try store.nextAssignment(annotator: nasty[0], dataset: "u2"))
        XCTAssertEqual([a.prompt, a.responseA, a.responseB], [nasty[0], nasty[1], nasty[2]])
        XCTAssertEqual(try db.query("SELECT count(*) FROM labels").int(0, 0), Int64(nasty.count), "the injection did nothing")
        // Invalid UTF-8 is reported, not stored.
        var bad = Data(jsonLine(["prompt": "ok", "chosen": "x", "rejected": "y"]).utf8)
        bad.append(contentsOf: [0x0A, 0x7B, 0x22, 0x70, 0x72, 0x6F, 0x6D, 0x70, 0x74, 0x22, 0x3A, 0x22, 0xFF, 0xFE, 0x22, 0x7D])
        let badURL = try temporaryFile(bad)
        XCTAssertThrowsError(try store.importFile(badURL, format: .trl, dataset: "bad", unlabeled: false, strict: true)) { error in
            XCTAssertTrue("\(error)".contains(":2: invalid UTF-8"), "\(error)")
        }
    }
}
