import XCTest
@testable import Pipeline

/// DAG scheduling, cache hits and misses, early cut-off, failures, corrupt artifacts.
final class CacheTests: XCTestCase {
    let chain = """
        name: chain
        seed: 1
        stages:
          a: {kind: test-write, params: {text: A, tag: TAG}}
          b: {kind: test-write, needs: [a], params: {text: B, tag: TAG}}
          c: {kind: test-write, needs: [b], params: {text: C, tag: TAG}}
        """

    func yaml(_ tag: String, a: String = "A") -> String {
        chain.replacingOccurrences(of: "TAG", with: tag).replacingOccurrences(of: "text: A", with: "text: \(a)")
    }

    func count(_ tag: String, _ stage: String) -> Int { ExecutionCounter.shared.count("\(tag)/\(stage)") }

    func testSecondRunIsFullyCachedAndChangesRerunDownstream() async throws {
        let sandbox = try Sandbox()
        let tag = UUID().uuidString
        let first = try await sandbox.run(yaml(tag))
        XCTAssertEqual(first.states(), ["a": .succeeded, "b": .succeeded, "c": .succeeded])
        XCTAssertEqual(try String(contentsOfFile: first["c"]!.path! + "/out.txt", encoding: .utf8), "CBA")
        XCTAssertEqual(first["a"]?.metrics["loss"], 1.0 / 3)

        let second = try await sandbox.run(yaml(tag))
        XCTAssertEqual(second.states(), ["a": .cached, "b": .cached, "c": .cached])
        XCTAssertEqual(second["c"]?.artifact, first["c"]?.artifact)
        XCTAssertEqual(second["a"]?.metrics["score"], 1, "a cached stage reports the producing run's metrics")
        XCTAssertEqual(second["a"]?.headline, ["score"])
        XCTAssertEqual([count(tag, "a"), count(tag, "b"), count(tag, "c")], [1, 1, 1])

        let third = try await sandbox.run(yaml(tag, a: "Z"))
        XCTAssertEqual(third.states(), ["a": .succeeded, "b": .succeeded, "c": .succeeded])
        XCTAssertEqual(try String(contentsOfFile: third["c"]!.path! + "/out.txt", encoding: .utf8), "CBZ")

        // The JSON summary has exactly the documented shape.
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(third.json.utf8)) as? [String: Any])
        XCTAssertEqual(json["run"] as? Int64, third.runID)
        let stages = try XCTUnwrap(json["stages"] as? [[String: Any]])
        XCTAssertEqual(Set(stages[0].keys), ["name", "kind", "state", "artifact", "path", "seconds", "metrics"])
        XCTAssertEqual(stages.map { $0["state"] as? String }, ["succeeded", "succeeded", "succeeded"])
    }

    func testForcedRerunWithIdenticalOutputKeepsDependentsCached() async throws {
        let sandbox = try Sandbox()
        let tag = UUID().uuidString
        _ = try await sandbox.run(yaml(tag))
        let forced = try await sandbox.run(yaml(tag), RunOptions(force: ["a"]))
        XCTAssertEqual(forced.states(), ["a": .succeeded, "b": .cached, "c": .cached], "early cut-off")
        XCTAssertEqual(count(tag, "a"), 2)
        XCTAssertEqual(count(tag, "b"), 1)
    }

    func testFailureSkipsDependentsAndIsNeverAHit() async throws {
        let sandbox = try Sandbox()
        let tag = UUID().uuidString
        let failing = yaml(tag).replacingOccurrences(of: "text: B, tag", with: "text: B, fail: true, tag")
        let run1 = try await sandbox.run(failing)
        XCTAssertEqual(run1.states(), ["a": .succeeded, "b": .failed, "c": .skipped])
        XCTAssertFalse(run1.succeeded)
        XCTAssertTrue(run1["b"]?.error?.contains("asked to fail") ?? false)
        XCTAssertNil(run1["b"]?.artifact)
        let run2 = try await sandbox.run(failing)
        XCTAssertEqual(run2.states(), ["a": .cached, "b": .failed, "c": .skipped])
        XCTAssertEqual(count(tag, "b"), 2, "a failed stage is retried, never served from the cache")
        let stored = try sandbox.store().stageRuns(run: run2.runID)
        XCTAssertEqual(stored.map(\.state), [.cached, .failed, .skipped])
        XCTAssertEqual(try sandbox.store().run(run2.runID)?.state, .failed)
        // Nothing half-written is left in tmp/.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: sandbox.workdir.path + "/tmp"), [])
    }

    func testDeletedOrEditedArtifactIsEvictedAndRebuilt() async throws {
        let sandbox = try Sandbox()
        let tag = UUID().uuidString
        let first = try await sandbox.run(yaml(tag))
        // Edit b's artifact (same size, so only the re-hash can tell) and delete c's.
        let bFile = first["b"]!.path! + "/out.txt"
        var st = stat()
        XCTAssertEqual(stat(bFile, &st), 0)
        XCTAssertEqual(st.st_mode & 0o222, 0, "artifact files are read-only")
        chmod(bFile, 0o644)
        try "XX".write(toFile: bFile, atomically: false, encoding: .utf8)
        try FileManager.default.removeItem(atPath: first["c"]!.path!)
        let store = try sandbox.store()
        let corrupt = try store.artifacts().filter { ArtifactVerifier.verify($0, store: store, full: true) != .ok }
        XCTAssertEqual(Set(corrupt.map(\.digest)), [first["b"]!.artifact!, first["c"]!.artifact!])

        let second = try await sandbox.run(yaml(tag))
        XCTAssertEqual(second.states(), ["a": .cached, "b": .succeeded, "c": .succeeded])
        XCTAssertEqual(second["b"]?.artifact, first["b"]?.artifact, "rebuilt to the same content")
        XCTAssertEqual(try String(contentsOfFile: bFile, encoding: .utf8), "BA")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: sandbox.workdir.path + "/quarantine").count, 1,
                       "the edited copy is kept aside, not deleted")
        XCTAssertTrue(try store.artifacts().allSatisfy { ArtifactVerifier.verify($0, store: store, full: true) == .ok })
    }

    func testPathInputsAndSnapshotsEnterTheKey() async throws {
        let sandbox = try Sandbox()
        let tag = UUID().uuidString
        try sandbox.write("data/f.txt", "one")
        FakeDatabase.shared.set(["r1", "r2"])
        let yaml = """
            stages:
              prefs: {kind: test-snapshot, params: {tag: \(tag)}}
              w: {kind: test-write, needs: [prefs], params: {text: W, tag: \(tag), files: [data/f.txt]}}
            """
        let r1 = try await sandbox.run(yaml)
        XCTAssertEqual(try String(contentsOfFile: r1["w"]!.path! + "/out.txt", encoding: .utf8), "W2")
        let s1 = try await sandbox.run(yaml)
        XCTAssertEqual(s1.states(), ["prefs": .cached, "w": .cached])
        try sandbox.write("data/f.txt", "two")
        let s2 = try await sandbox.run(yaml)
        XCTAssertEqual(s2.states(), ["prefs": .cached, "w": .succeeded])
        FakeDatabase.shared.set(["r1", "r2", "r3"])
        let r4 = try await sandbox.run(yaml)
        XCTAssertEqual(r4.states(), ["prefs": .succeeded, "w": .succeeded])
        XCTAssertEqual(try String(contentsOfFile: r4["w"]!.path! + "/out.txt", encoding: .utf8), "W3")
        // The snapshot is stored as its own artifact and recorded in lineage.
        let kinds = try sandbox.store().artifacts().map(\.kind)
        XCTAssertEqual(kinds.filter { $0 == "snapshot:test-snapshot" }.count, 2)
    }

    func testDryRunUntilAndOnly() async throws {
        let sandbox = try Sandbox()
        let tag = UUID().uuidString
        let dry = try await sandbox.run(yaml(tag), RunOptions(dryRun: true))
        XCTAssertEqual(dry.states(), ["a": .wouldRun, "b": .wouldRun, "c": .wouldRun])
        XCTAssertEqual(count(tag, "a"), 0)
        let only = try await sandbox.run(yaml(tag), RunOptions(only: ["b"]))
        XCTAssertEqual(only.states(), ["a": .skipped, "b": .skipped])
        XCTAssertTrue(only["a"]?.error?.contains("not cached") ?? false)
        let until = try await sandbox.run(yaml(tag), RunOptions(until: ["b"]))
        XCTAssertEqual(until.states(), ["a": .succeeded, "b": .succeeded])
        let only2 = try await sandbox.run(yaml(tag), RunOptions(force: ["b"], only: ["b"]))
        XCTAssertEqual(only2.states(), ["a": .cached, "b": .succeeded])
        let dry2 = try await sandbox.run(yaml(tag), RunOptions(dryRun: true))
        XCTAssertEqual(dry2.states(), ["a": .cached, "b": .cached, "c": .wouldRun])
        XCTAssertEqual(count(tag, "c"), 0)
    }

    func testParallelIndependentStages() async throws {
        let sandbox = try Sandbox()
        let tag = UUID().uuidString
        let yaml = """
            stages:
              root: {kind: test-write, params: {text: R, tag: \(tag)}}
              l: {kind: test-write, needs: [root], params: {text: L, tag: \(tag)}}
              r: {kind: test-write, needs: [root], params: {text: Q, tag: \(tag)}}
              join: {kind: test-write, needs: [l, r], params: {text: J, tag: \(tag)}}
            """
        let s = try await sandbox.run(yaml, RunOptions(jobs: 3))
        XCTAssertEqual(s.stages.map(\.name), ["root", "l", "r", "join"])
        XCTAssertEqual(try String(contentsOfFile: s["join"]!.path! + "/out.txt", encoding: .utf8), "JLRQR")
    }
}
