import Foundation
import Logging
import PipelineTestSupport
import XCTest
@testable import Pipeline

// MARK: - Test stage kinds (registered only in tests)

/// Counts executions per stage name, across runners in this process.
final class ExecutionCounter: @unchecked Sendable {
    static let shared = ExecutionCounter()
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    func bump(_ key: String) { lock.withLock { counts[key, default: 0] += 1 } }
    func count(_ key: String) -> Int { lock.withLock { counts[key, default: 0] } }
    func reset() { lock.withLock { counts.removeAll() } }
}

/// Writes `text` plus the concatenated `out.txt` of its inputs into `out.txt`; fails when `fail` is true.
/// Counts executions under `<tag>/<stage>` so that each test sees its own counts.
struct WriteStage: StageKind {
    static let name = "test-write"
    static let version = "1"
    static let headlineMetrics = ["score"]
    static let parameters: ParameterSchema = [
        ParameterSpec("text", .string, required: "Text written to out.txt."),
        ParameterSpec("tag", .string, default: .string(""), doc: "Counter namespace (one per test)."),
        ParameterSpec("fail", .bool, default: .bool(false), doc: "Throw instead of writing."),
        ParameterSpec("steps", .int, default: .int(3), doc: "Metric steps to log."),
        ParameterSpec("ratio", .float, default: .float(0.5), doc: "Unused number."),
        ParameterSpec("files", .list(.path), default: .list([]), doc: "Files read (part of the key)."),
    ]
    init() {}
    func run(_ context: StageContext) async throws {
        ExecutionCounter.shared.bump("\(try context.params.string("tag"))/\(context.stageName)")
        if try context.params.bool("fail") {
            throw PipelineError.stageFailed(stage: context.stageName, message: "asked to fail", log: nil)
        }
        var text = try context.params.string("text")
        for name in context.inputs.keys.sorted() {
            text += try String(contentsOf: context.input(name).appendingPathComponent("out.txt"), encoding: .utf8)
        }
        for step in 1...max(1, try context.params.int("steps")) {
            context.metrics.log(step: step, name: "loss", value: 1.0 / Double(step))
            context.metrics.log(step: step, name: "eval_loss", value: 1.5 / Double(step))
        }
        context.metrics.log(step: 0, name: "score", value: Double(text.count))
        try text.write(to: context.outputDirectory.appendingPathComponent("out.txt"), atomically: true, encoding: .utf8)
    }
}

/// A "database" read during `resolveInputs`: the snapshot written there decides the cache key.
final class FakeDatabase: @unchecked Sendable {
    static let shared = FakeDatabase()
    private let lock = NSLock()
    private var rows: [String] = []
    func set(_ r: [String]) { lock.withLock { rows = r } }
    var all: [String] { lock.withLock { rows } }
}

/// Snapshots `FakeDatabase` into the snapshot directory and writes the row count as its artifact.
struct SnapshotStage: StageKind {
    static let name = "test-snapshot"
    static let version = "1"
    static let parameters: ParameterSchema = [ParameterSpec("tag", .string, default: .string(""), doc: "Counter namespace.")]
    init() {}
    func resolveInputs(_ context: StageContext) async throws -> [ResolvedInput] {
        let dir = try XCTUnwrap(context.snapshotDirectory)
        try FakeDatabase.shared.all.joined(separator: "\n").write(to: dir.appendingPathComponent("rows.txt"), atomically: true, encoding: .utf8)
        return []
    }
    func run(_ context: StageContext) async throws {
        ExecutionCounter.shared.bump("\(try context.params.string("tag"))/\(context.stageName)")
        let dir = try XCTUnwrap(context.snapshotDirectory)
        let rows = try String(contentsOf: dir.appendingPathComponent("rows.txt"), encoding: .utf8)
        try "\(rows.split(separator: "\n").count)".write(to: context.outputDirectory.appendingPathComponent("out.txt"),
                                                        atomically: true, encoding: .utf8)
    }
}

// MARK: - Sandbox

/// The pipeline tests' sandbox: the shared `PipelineSandbox` with the built-in kinds plus the test kinds above.
typealias Sandbox = PipelineSandbox

extension PipelineSandbox {
    /// The built-in stage kinds plus `WriteStage`, `SnapshotStage` and `LineageProbeStage`.
    static var registry: StageRegistry {
        var r = StageRegistry.builtin()
        r.register(WriteStage.self)
        r.register(SnapshotStage.self)
        r.register(LineageProbeStage.self)
        return r
    }

    /// A sandbox for the pipeline tests (`$TMPDIR/rlhf-pipeline-tests-UUID`).
    convenience init() throws { try self.init(registry: Self.registry, prefix: "rlhf-pipeline-tests") }
}
