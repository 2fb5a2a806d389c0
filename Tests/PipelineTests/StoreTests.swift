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

    /// Switching a fresh database to WAL needs an exclusive lock that SQLite refuses at once (no busy
    /// wait) when another connection is switching it too: two `rlhf run`s on a new work directory failed
    /// with "locked" 1 time in ~100 under load. Opening is serialised by a file lock, so every opener succeeds.
    func testConcurrentOpensOfAFreshWorkdirAllSucceed() throws {
        for _ in 0..<100 {
            let sandbox = try Sandbox()
            let errors = ErrorBox()
            DispatchQueue.concurrentPerform(iterations: 6) { _ in
                do { _ = try PipelineStore(workdir: sandbox.workdir).runs() } catch { errors.append(error) }
            }
            XCTAssertEqual(errors.all.map { "\($0)" }, [])
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

/// Errors collected from concurrent work.
private final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private var errors: [Error] = []
    func append(_ e: Error) { lock.lock(); errors.append(e); lock.unlock() }
    var all: [Error] { lock.lock(); defer { lock.unlock() }; return errors }
}
