// Test support shared by PipelineTests and StagesTests: a throw-away directory that holds pipeline files
// and a work directory, and runs pipelines in-process against a given stage registry.

import Foundation
import Logging
import Pipeline

// MARK: - Sandbox

/// A temporary directory with pipeline files and a work directory (`root/work`); removed at deinit.
public final class PipelineSandbox {
    /// The sandbox directory (created by `init`).
    public let root: URL
    /// The registry `run` validates pipelines against.
    public let registry: StageRegistry
    /// The pipeline work directory (`root/work`: store, artifacts, logs).
    public var workdir: URL { root.appendingPathComponent("work") }

    /// Creates `$TMPDIR/<prefix>-<UUID>/`.
    /// - Parameters:
    ///   - registry: the stage kinds pipelines may use.
    ///   - prefix: the directory name's prefix (tells which test suite left it, if anything does).
    /// - Throws: the file system's error when the directory cannot be created.
    public init(registry: StageRegistry, prefix: String) throws {
        self.registry = registry
        root = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    /// Writes `text` to `name` under the sandbox (creating directories).
    /// - Returns: the file's URL.
    /// - Throws: the file system's error.
    @discardableResult
    public func write(_ name: String, _ text: String) throws -> URL {
        let url = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// Writes `yaml` as `name`, validates it against `registry` and runs it in-process (logging off).
    /// - Returns: the run's summary.
    /// - Throws: `PipelineError` from validation or the run.
    public func run(_ yaml: String, name: String = "pipeline.yaml", _ options: RunOptions = RunOptions()) async throws -> RunSummary {
        let file = try write(name, yaml)
        let validated = try PipelineValidator.validate(try PipelineSpec.load(file), registry: registry)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return try await PipelineRunner(pipeline: validated, store: try store(), logger: logger).run(options)
    }

    /// Opens the sandbox's pipeline store.
    /// - Throws: `PipelineError` when the store cannot be opened.
    public func store() throws -> PipelineStore { try PipelineStore(workdir: workdir) }
}

// MARK: - Summary lookups

extension RunSummary {
    /// The result of the stage named `stage`, if it is in the run.
    public subscript(_ stage: String) -> StageResult? { stages.first { $0.name == stage } }

    /// Each stage's state, by stage name.
    public func states() -> [String: StageResult.State] {
        Dictionary(uniqueKeysWithValues: stages.map { ($0.name, $0.state) })
    }
}
