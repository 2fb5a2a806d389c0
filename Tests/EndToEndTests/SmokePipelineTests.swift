import Foundation
import XCTest

/// The main job's graph end to end (`pipelines/smoke.yaml`) through the built `rlhf` binary, against the
/// real PostgreSQL that `.ci/run` starts (`RLHF_DATABASE_URL`): every stage succeeds and reports its
/// headline metrics; an immediate re-run is fully cached; after new comparisons are imported, the
/// stages upstream of the comparisons stay cached and the reward model and PPO run again.
final class SmokePipelineTests: XCTestCase {
    private let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    private func rlhfBinary() throws -> URL {
        var dir = Bundle.main.bundleURL
        for _ in 0..<3 {
            let candidate = dir.appendingPathComponent("rlhf")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        throw XCTSkip("the rlhf executable is not built next to the tests; run `swift build` first")
    }

    /// Runs a program; returns (status, stdout, stderr).
    @discardableResult
    private func run(_ exe: URL, _ args: [String], env: [String: String] = [:]) throws -> (Int32, String, String) {
        let p = Process()
        p.executableURL = exe
        p.arguments = args
        p.currentDirectoryURL = repo
        p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    private func psql(_ url: String, _ sql: String) throws {
        guard let psql = ["/usr/bin/psql", "/usr/local/bin/psql"].first(where: FileManager.default.isExecutableFile) else {
            throw XCTSkip("psql not installed")
        }
        let (status, _, err) = try run(URL(fileURLWithPath: psql), [url, "-v", "ON_ERROR_STOP=1", "-qc", sql])
        XCTAssertEqual(status, 0, err)
    }

    /// The `rlhf run --json` object: stage name → (state, metrics, path).
    private func stages(_ stdout: String) throws -> [String: [String: Any]] {
        let line = try XCTUnwrap(stdout.split(separator: "\n").last, "no JSON line on stdout")
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let list = try XCTUnwrap(object["stages"] as? [[String: Any]])
        return Dictionary(uniqueKeysWithValues: list.map { ($0["name"] as! String, $0) })
    }

    private func metric(_ stage: [String: Any]?, _ name: String) -> Double? {
        (stage?["metrics"] as? [String: Any])?[name] as? Double
    }

    func testSmokePipelineEndToEndCachingAndNewComparisons() throws {
        guard let base = ProcessInfo.processInfo.environment["RLHF_DATABASE_URL"] else {
            throw XCTSkip("RLHF_DATABASE_URL is not set (scripts/test.sh and .ci/run start a PostgreSQL)")
        }
        let rlhf = try rlhfBinary()
        // A database of its own, so the test neither sees nor leaves comparisons elsewhere.
        let db = "rlhf_e2e_\(UInt32.random(in: 0...UInt32.max))"
        try psql(base, "CREATE DATABASE \(db)")
        defer { try? psql(base, "DROP DATABASE IF EXISTS \(db) WITH (FORCE)") }
        var components = try XCTUnwrap(URLComponents(string: base))
        components.path = "/" + db
        let env = ["RLHF_DATABASE_URL": try XCTUnwrap(components.string)]
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("rlhf-smoke-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }

        var r = try run(rlhf, ["db", "migrate"], env: env)
        XCTAssertEqual(r.0, 0, r.2)
        r = try run(rlhf, ["prefs", "import", "annotations/hh-rlhf-harmless-base/test_shared.jsonl", "--format", "hh-rlhf",
                           "--dataset", "hh-rlhf-harmless-base"], env: env)
        XCTAssertEqual(r.0, 0, r.2)

        // 1. The whole graph runs.
        let runArgs = ["run", "pipelines/smoke.yaml", "--workdir", work.path, "--json"]
        r = try run(rlhf, runArgs, env: env)
        XCTAssertEqual(r.0, 0, r.2)
        let first = try stages(r.1)
        XCTAssertEqual(Set(first.keys), ["tokenizer", "pretrain", "rag", "reward-model", "ppo", "export"])
        for (name, stage) in first { XCTAssertEqual(stage["state"] as? String, "succeeded", name) }
        XCTAssertNotNil(metric(first["pretrain"], "eval_loss"))
        XCTAssertNotNil(metric(first["rag"], "eval/open_book_exact_match"))
        XCTAssertNotNil(metric(first["rag"], "eval/closed_book_exact_match"))
        XCTAssertNotNil(metric(first["reward-model"], "eval_accuracy"))
        XCTAssertNotNil(metric(first["ppo"], "eval/kl"))
        XCTAssertNotNil(metric(first["ppo"], "eval/score_policy"))
        let export = URL(fileURLWithPath: try XCTUnwrap(first["export"]?["path"] as? String))
        XCTAssertTrue(FileManager.default.fileExists(atPath: export.appendingPathComponent("hf/config.json").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: export.appendingPathComponent("hf/model.safetensors").path))
        let gguf = try FileManager.default.contentsOfDirectory(atPath: export.appendingPathComponent("gguf").path)
            .filter { $0.hasSuffix(".gguf") }
        XCTAssertEqual(gguf.count, 1)
        let magic = try FileHandle(forReadingFrom: export.appendingPathComponent("gguf/\(gguf[0])")).read(upToCount: 4)
        XCTAssertEqual(magic, Data("GGUF".utf8))

        // 2. Re-run: fully cached, same artifacts.
        r = try run(rlhf, runArgs, env: env)
        XCTAssertEqual(r.0, 0, r.2)
        let second = try stages(r.1)
        for (name, stage) in second {
            XCTAssertEqual(stage["state"] as? String, "cached", name)
            XCTAssertEqual(stage["artifact"] as? String, first[name]?["artifact"] as? String, name)
        }

        // 3. New comparisons: upstream stays cached, the reward model and PPO run again.
        let extra = work.appendingPathComponent("new.jsonl")
        let tag = UUID().uuidString
        let lines = (0..<3).map { i in
            #"{"prompt": "\n\nHuman: Is question \#(i) of \#(tag) fine?\n\nAssistant:", "chosen": " Yes, it is fine.", "rejected": " No."}"#
        }
        try lines.joined(separator: "\n").write(to: extra, atomically: true, encoding: .utf8)
        r = try run(rlhf, ["prefs", "import", extra.path, "--format", "trl", "--dataset", "hh-rlhf-harmless-base"], env: env)
        XCTAssertEqual(r.0, 0, r.2)
        r = try run(rlhf, runArgs, env: env)
        XCTAssertEqual(r.0, 0, r.2)
        let third = try stages(r.1)
        for name in ["tokenizer", "pretrain", "rag"] { XCTAssertEqual(third[name]?["state"] as? String, "cached", name) }
        for name in ["reward-model", "ppo"] { XCTAssertEqual(third[name]?["state"] as? String, "succeeded", name) }
        XCTAssertNotEqual(third["export"]?["state"] as? String, "failed")
    }
}
