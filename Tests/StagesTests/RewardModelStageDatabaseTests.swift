import Foundation
import Pipeline
import Stages
import XCTest
@testable import Preferences

/// The `reward-model` stage against the real PostgreSQL of `RLHF_DATABASE_URL` (skipped when unset).
final class RewardModelStageDatabaseTests: XCTestCase {
    /// A dataset whose comparisons are all unlabelled gives an empty snapshot: the stage fails before
    /// training with an error naming the dataset and the fixes, and the store keeps no artifact or cache entry.
    func testEmptySnapshotFailsClearlyAndStoresNothing() async throws {
        let db = try StagesTestDatabase.make()
        defer { db.drop() }
        let store = try db.store()
        let sandbox = try StageSandbox()
        try TinyModel.write(to: sandbox.root.appendingPathComponent("model"))
        let file = try sandbox.write("pairs.jsonl", """
            {"prompt": "What is the answer?", "chosen": "Forty two.", "rejected": "No idea."}
            {"prompt": "Is the dog lazy?", "chosen": "The dog rests.", "rejected": "Yes."}

            """)
        let report = try store.importFile(file, format: .trl, dataset: "unlabelled-prefs", unlabeled: true, strict: true)
        XCTAssertEqual(report.comparisonsAdded, 2)
        let yaml = """
            name: empty-rm
            seed: 3
            stages:
              base:
                kind: command
                params: {run: "cp -R model/. \\"$RLHF_OUTPUT_DIR\\"/", deps: [model]}
              rm:
                kind: reward-model
                needs: [base]
                params: {dataset: unlabelled-prefs, steps: 2, batch_size: 2, database_url: "\(db.url)"}
            """
        for attempt in 1...2 {
            let summary = try await sandbox.run(yaml)
            let rm = try XCTUnwrap(summary["rm"])
            XCTAssertEqual(rm.state, .failed, "attempt \(attempt)")
            let error = rm.error ?? ""
            XCTAssertTrue(error.contains("unlabelled-prefs"), error)
            XCTAssertTrue(error.contains("no labelled comparisons"), error)
            XCTAssertTrue(error.contains("rlhf prefs import") && error.contains("rlhf label"), error)
            XCTAssertNil(rm.artifact, "attempt \(attempt): nothing stored")
            XCTAssertNil(rm.metrics["eval_accuracy"], "no training ran")
        }
        // No artifact directory for the failed stage: only the base stage's artifact exists.
        let artifacts = sandbox.workdir.appendingPathComponent("artifacts")
        let stored = (try? FileManager.default.contentsOfDirectory(atPath: artifacts.path)) ?? []
        XCTAssertEqual(stored.filter { !$0.hasPrefix(".") }.count, 1, "\(stored)")
    }
}
