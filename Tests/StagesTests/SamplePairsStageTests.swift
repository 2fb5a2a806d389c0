import Foundation
import Logging
import Pipeline
import Stages
import XCTest
@testable import Preferences

/// A fresh PostgreSQL schema on `RLHF_DATABASE_URL` (skips when unset), dropped at the end.
struct StagesTestDatabase {
    let adminURL: String
    let schema: String
    let url: String

    static func make() throws -> StagesTestDatabase {
        guard let admin = ProcessInfo.processInfo.environment["RLHF_DATABASE_URL"], !admin.isEmpty else {
            throw XCTSkip("RLHF_DATABASE_URL is not set; start a server with deploy/local-postgres.sh start /tmp/pg 55432 and export it")
        }
        let schema = "s_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        try PostgresConnection(conninfo: admin).execute("CREATE SCHEMA \(schema)")
        let sep = admin.contains("?") ? "&" : "?"
        return StagesTestDatabase(adminURL: admin, schema: String(schema), url: admin + sep + "options=-csearch_path%3D\(schema)")
    }

    func store() throws -> PreferenceStore {
        let s = try PreferenceStore(url: url, logger: Logger(label: "test"))
        try s.migrate()
        return s
    }

    /// Rows of `sql` as strings.
    func rows(_ sql: String, columns: Int = 1) throws -> [[String?]] {
        let r = try PostgresConnection(conninfo: url).execute(sql)
        return (0..<r.rowCount).map { i in (0..<columns).map { r.string(i, $0) } }
    }

    func drop() {
        if let c = try? PostgresConnection(conninfo: adminURL) { _ = try? c.execute("DROP SCHEMA \(schema) CASCADE") }
    }
}

/// The `sample-pairs` stage against the real PostgreSQL: two samples per prompt, provenance, skips, idempotence.
final class SamplePairsStageTests: XCTestCase {
    let prompts = ["What is the capital of France?", "How do I bake bread?", "Tell me about the fox.", "Is the dog lazy?",
                   "What is the answer?", "Thank you for asking."]

    func pipeline(db: StagesTestDatabase, sample: String) -> String {
        """
        name: hitl
        seed: 5
        stages:
          base:
            kind: command
            params: {run: "cp -R model/. \\"$RLHF_OUTPUT_DIR\\"/", deps: [model]}
          sample:
            kind: sample-pairs
        \(sample)
        """
    }

    func testSamplesTwoCompletionsPerPromptQueuesThemWithProvenanceAndIsIdempotent() async throws {
        let db = try StagesTestDatabase.make()
        defer { db.drop() }
        _ = try db.store()
        let sandbox = try StageSandbox()
        try TinyModel.write(to: sandbox.root.appendingPathComponent("model"))
        try sandbox.write("prompts.jsonl", prompts.map { "{\"prompt\": \"\($0)\"}" }.joined(separator: "\n") + "\n")
        let yaml = pipeline(db: db, sample: """
                needs: [base]
                params: {dataset: mine, prompts: prompts.jsonl, num_prompts: 5, max_new_tokens: 12, temperature: 1.0,
                         batch_size: 2, database_url: "\(db.url)"}
            """)
        let first = try await sandbox.run(yaml)
        let sample = try XCTUnwrap(first["sample"])
        XCTAssertEqual(sample.state, .succeeded, sample.error ?? "")
        let queued = try XCTUnwrap(sample.metrics["sample_pairs/queued"])
        let skipped = try XCTUnwrap(sample.metrics["sample_pairs/identical_skipped"])
        XCTAssertEqual(queued + skipped, 5, "one pair per prompt, either queued or skipped")
        XCTAssertGreaterThanOrEqual(queued, 3, "a random model at temperature 1 rarely repeats itself")

        // The database holds exactly the queued pairs, with different texts, the model digest and the sampling settings.
        let rows = try db.rows("""
            SELECT p.text, ra.text, rb.text, ra.model_digest, rb.model_digest, ra.generation_params::text, rb.generation_params::text
            FROM comparisons c JOIN datasets d ON d.id = c.dataset_id JOIN prompts p ON p.id = c.prompt_id
            JOIN responses ra ON ra.id = c.response_a JOIN responses rb ON rb.id = c.response_b WHERE d.name = 'mine'
            """, columns: 7)
        XCTAssertEqual(Double(rows.count), queued)
        let base = try XCTUnwrap(first["base"]?.artifact)
        for r in rows {
            XCTAssertTrue(prompts.prefix(5).contains(r[0] ?? ""), "\(r[0] ?? "")")
            XCTAssertNotEqual(r[1], r[2])
            XCTAssertEqual(r[3], base)
            XCTAssertEqual(r[4], base)
            let pa = try XCTUnwrap(JSONSerialization.jsonObject(with: Data((r[5] ?? "").utf8)) as? [String: Double])
            let pb = try XCTUnwrap(JSONSerialization.jsonObject(with: Data((r[6] ?? "").utf8)) as? [String: Double])
            XCTAssertEqual(pa["temperature"], 1)
            XCTAssertEqual(pa["max_new_tokens"], 12)
            XCTAssertEqual(pa["seed"], 5)
            XCTAssertEqual([pa["sample"], pb["sample"]], [0, 1])
        }
        let artifactPairs = try String(contentsOfFile: try XCTUnwrap(sample.path) + "/pairs.jsonl", encoding: .utf8)
        XCTAssertEqual(Double(artifactPairs.split(separator: "\n").count), queued)

        // Not cacheable: it runs again, and the same seed queues nothing new (idempotent by content).
        let second = try await sandbox.run(yaml)
        XCTAssertEqual(second["base"]?.state, .cached)
        XCTAssertEqual(second["sample"]?.state, .succeeded)
        XCTAssertEqual(second["sample"]?.metrics["sample_pairs/queued"], 0)
        XCTAssertEqual(try db.rows("SELECT count(*) FROM comparisons")[0][0], "\(Int(queued))")

        // Prompts from a dataset and the model as PIPELINE:STAGE; near-greedy sampling makes both samples equal.
        let fromDataset = pipeline(db: db, sample: """
                params: {dataset: greedy, prompts_from: mine, model: "hitl:base", num_prompts: 3, max_new_tokens: 8,
                         temperature: 0.00001, database_url: "\(db.url)"}
            """)
        let third = try await sandbox.run(fromDataset, name: "other.yaml")
        XCTAssertEqual(third["sample"]?.state, .succeeded, third["sample"]?.error ?? "")
        XCTAssertEqual(third["sample"]?.metrics["sample_pairs/identical_skipped"], 3)
        XCTAssertEqual(third["sample"]?.metrics["sample_pairs/queued"], 0)
    }

    func testMissingPromptsSourceOrDatabaseFailsClearly() async throws {
        let sandbox = try StageSandbox()
        try TinyModel.write(to: sandbox.root.appendingPathComponent("model"))
        let both = try await sandbox.run(pipeline(db: StagesTestDatabase(adminURL: "", schema: "", url: ""), sample: """
                needs: [base]
                params: {dataset: mine, database_url: "postgresql://nobody@127.0.0.1:1/none"}
            """))
        XCTAssertEqual(both["sample"]?.state, .failed)
        XCTAssertTrue(both["sample"]?.error?.contains("give exactly one of `prompts_from` (a dataset) or `prompts` (a file)") == true,
                      both["sample"]?.error ?? "")
        let two = try await sandbox.run(pipeline(db: StagesTestDatabase(adminURL: "", schema: "", url: ""), sample: """
                needs: [base]
                params: {dataset: mine, prompts_from: x, model: "hitl:base"}
            """))
        XCTAssertTrue(two["sample"]?.error?.contains("either as one `needs` stage or as the `model` parameter") == true,
                      two["sample"]?.error ?? "")
    }
}
