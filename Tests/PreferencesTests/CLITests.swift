import Foundation
import XCTest
@testable import Preferences

/// The `rlhf db` and `rlhf prefs` commands end to end through the built executable.
final class CLITests: XCTestCase {
    var db: TestDatabase!

    override func setUpWithError() throws { db = try TestDatabase.make() }
    override func tearDown() { db?.drop() }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func rlhf(_ args: [String]) throws -> (status: Int32, output: String) {
        let path = Bundle.module.bundleURL.deletingLastPathComponent().appendingPathComponent("rlhf").path
        guard FileManager.default.isExecutableFile(atPath: path) else { throw XCTSkip("the rlhf executable is not built next to the tests") }
        var env = ProcessInfo.processInfo.environment
        env["RLHF_DATABASE_URL"] = db.url
        return try runProcess(path, args, environment: env)
    }

    func testMigrateImportExportStatsRoundTrip() throws {
        let example = Self.root.appendingPathComponent("annotations/example-trl.jsonl")
        XCTAssertEqual(try rlhf(["prefs", "stats"]).status, 1, "not migrated yet: a clear error, non-zero exit")
        XCTAssertTrue(try rlhf(["db", "migrate"]).output.contains("applied migration(s) 1"))
        XCTAssertTrue(try rlhf(["db", "migrate"]).output.contains("up to date"))

        let first = try rlhf(["prefs", "import", example.path, "--format", "trl", "--dataset", "ex", "--json"])
        XCTAssertEqual(first.status, 0)
        let report = try JSONDecoder().decode(ImportReport.self, from: Data(first.output.utf8))
        XCTAssertEqual(report.comparisonsAdded, 3)
        let again = try JSONDecoder().decode(ImportReport.self, from: Data(try rlhf(["prefs", "import", example.path, "--format", "trl", "--dataset", "ex", "--json"]).output.utf8))
        XCTAssertEqual(again.comparisonsAdded, 0)
        XCTAssertEqual(again.labelsAdded, 0)

        let out = FileManager.default.temporaryDirectory.appendingPathComponent("export-\(UUID().uuidString).jsonl")
        let export = try rlhf(["prefs", "export", "--dataset", "ex", "--format", "trl", "--out", out.path])
        XCTAssertEqual(export.status, 0)
        let exported = try String(contentsOf: out, encoding: .utf8).split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: String] }
        let original = try String(contentsOf: example, encoding: .utf8).split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: String] }
        XCTAssertEqual(exported, original, "TRL import then export round-trips")
        let digest = try store().snapshot(dataset: "ex").digest
        XCTAssertTrue(export.output.contains(digest), "the CLI prints the snapshot digest")

        let stats = try rlhf(["prefs", "stats", "--dataset", "ex", "--json"])
        let parsed = try JSONDecoder().decode([DatasetStats].self, from: Data(stats.output.utf8))
        XCTAssertEqual(parsed.first?.choices.a, 3)
        XCTAssertEqual(parsed.first?.annotators.map(\.annotator), ["import:trl"])

        let bad = try rlhf(["prefs", "export", "--dataset", "missing", "--out", out.path])
        XCTAssertEqual(bad.status, 1)
    }

    func store() throws -> PreferenceStore { try db.store() }
}
