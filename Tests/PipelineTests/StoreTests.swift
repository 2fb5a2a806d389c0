import GRDB
import XCTest
@testable import Pipeline

/// The SQLite store: bad database files, migrations on reopen, stale records, garbage collection.
final class StoreTests: XCTestCase {
    func testNotADatabaseIsAClearError() throws {
        let sandbox = try Sandbox()
        try FileManager.default.createDirectory(at: sandbox.workdir, withIntermediateDirectories: true)
        let garbage = String(repeating: "not sqlite ", count: 100)
        try sandbox.write("work/rlhf.sqlite", garbage)
        XCTAssertThrowsError(try PipelineStore(workdir: sandbox.workdir)) { error in
            XCTAssertTrue("\(error)".contains("not an SQLite database"), "\(error)")
        }
        XCTAssertEqual(try String(contentsOf: sandbox.workdir.appendingPathComponent("rlhf.sqlite"), encoding: .utf8), garbage,
                       "the file is left untouched")
        XCTAssertThrowsError(try PipelineStore(workdir: sandbox.root.appendingPathComponent("absent"), create: false)) { error in
            XCTAssertTrue("\(error)".contains("run `rlhf run PIPELINE.yaml` first"), "\(error)")
        }
    }

    func testLockedDatabaseIsAClearErrorAndNothingIsLost() throws {
        let sandbox = try Sandbox()
        let store = try PipelineStore(workdir: sandbox.workdir)
        let first = try store.startRun(pipeline: "p", file: "/p.yaml")
        // Another connection (as another process would) holds the write lock.
        let other = try DatabaseQueue(path: store.databaseURL.path)
        let locked = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let holder = Thread {
            try? other.write { db in
                try db.execute(sql: "INSERT INTO runs (pipeline, file, state, started, pid, host, heartbeat) VALUES ('x', 'x', 'failed', 0, 0, 'h', 0)")
                locked.signal()
                release.wait()
                throw CancellationError()  // roll back
            }
            locked.signal()
        }
        holder.start()
        locked.wait()
        let blocked = try PipelineStore(workdir: sandbox.workdir, busyTimeout: 0.2)
        XCTAssertThrowsError(try blocked.startRun(pipeline: "p", file: "/p.yaml")) { error in
            XCTAssertTrue("\(error)".contains("locked by another process"), "\(error)")
        }
        release.signal()
        locked.wait()
        XCTAssertEqual(try blocked.runs().map(\.id), [first])
        XCTAssertEqual(try blocked.startRun(pipeline: "p", file: "/p.yaml"), first + 1)
    }

    func testReopenKeepsDataAndReapsDeadProcesses() throws {
        let sandbox = try Sandbox()
        let store = try PipelineStore(workdir: sandbox.workdir)
        let run = try store.startRun(pipeline: "p", file: "/p.yaml")
        let id = try store.insertStageRun(run: run, stage: "s", kind: "k", key: "abc", state: .running, logPath: nil, headline: [])
        // Pretend a dead process owned it: a pid that cannot exist on this host.
        try store.write { db in
            try db.execute(sql: "UPDATE stage_runs SET pid = 2147483646 WHERE id = ?", arguments: [id])
            try db.execute(sql: "UPDATE runs SET pid = 2147483646 WHERE id = ?", arguments: [run])
        }
        let reopened = try PipelineStore(workdir: sandbox.workdir)
        let reaped = try reopened.reapStale()
        XCTAssertEqual(reaped.map(\.id), [id])
        XCTAssertEqual(try reopened.stageRun(id)?.state, .interrupted)
        XCTAssertEqual(try reopened.run(run)?.state, .interrupted)
        XCTAssertEqual(try reopened.reapStale().count, 0)
    }

    func testGarbageCollectionKeepsRecentRunsOfEachPipeline() async throws {
        let sandbox = try Sandbox()
        let tag = UUID().uuidString
        let one = try await sandbox.run("stages:\n  a: {kind: test-write, params: {text: one, tag: \(tag)}}\n")
        let two = try await sandbox.run("stages:\n  a: {kind: test-write, params: {text: two, tag: \(tag)}}\n")
        let other = try sandbox.write("other/pipeline.yaml", "stages:\n  b: {kind: test-write, params: {text: other, tag: \(tag)}}\n")
        let validated = try PipelineValidator.validate(try PipelineSpec.load(other), registry: Sandbox.registry)
        let three = try await PipelineRunner(pipeline: validated, store: try sandbox.store(), logger: .init(label: "t")).run(RunOptions())
        let keep = try sandbox.store().artifactsReferenced(byLastRuns: 1)
        XCTAssertEqual(keep, [two["a"]!.artifact!, three["b"]!.artifact!])
        XCTAssertFalse(keep.contains(one["a"]!.artifact!))
    }
}
