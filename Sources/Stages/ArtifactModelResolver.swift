import Export
import Foundation
import Pipeline

// MARK: - Model references resolved in a work directory

/// Resolves `--model` arguments against a pipeline work directory: a model directory as it is, an
/// artifact digest (full or a unique prefix of at least 4 hex digits, optionally `sha256:`) to
/// `<workdir>/artifacts/<digest>`, and `PIPELINE:STAGE` to the artifact of that stage's latest
/// succeeded or cached run (PIPELINE is the pipeline's `name:`, its file path, or the file's base name).
public struct ArtifactModelResolver: ModelReferenceResolver {
    /// The work directory (holding `rlhf.sqlite` and `artifacts/`).
    public let workdir: URL

    /// - Parameter workdir: the work directory (`--workdir`, default `$RLHF_WORKDIR` or `.rlhf`).
    public init(workdir: URL) {
        self.workdir = workdir.standardizedFileURL
    }

    /// The default work directory: `$RLHF_WORKDIR`, else `.rlhf` in the current directory.
    public static var defaultWorkdir: URL {
        URL(fileURLWithPath: ProcessInfo.processInfo.environment["RLHF_WORKDIR"] ?? ".rlhf").standardizedFileURL
    }

    /// Parses a command-line argument: an existing directory; `sha256:HEX` or 4–64 hex digits (a digest or
    /// prefix); `A:B` (a pipeline stage); anything else a directory path.
    /// Example: `"3fa9c1"` → `.digest("3fa9c1")`, `"quickstart:ppo"` → `.pipelineStage`.
    public static func parse(_ text: String) -> ModelReference {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: text, isDirectory: &isDirectory), isDirectory.boolValue {
            return .directory(URL(fileURLWithPath: text))
        }
        let hex = text.hasPrefix("sha256:") ? String(text.dropFirst(7)) : text
        if (4...64).contains(hex.count), hex.allSatisfy(\.isHexDigit) { return .digest(hex.lowercased()) }
        return ModelReference.parse(text)
    }

    /// Resolves `text` (see `parse`) to a model directory.
    /// - Throws: as `resolve(_:)`.
    public func resolve(argument text: String) throws -> URL {
        try resolve(Self.parse(text))
    }

    /// Returns the directory of the referenced model (it exists).
    /// - Throws: `ExportError.unresolvedReference` when the directory is missing, the work directory has
    ///   no store, no artifact or several artifacts match a digest prefix, or the stage has no successful run.
    public func resolve(_ reference: ModelReference) throws -> URL {
        switch reference {
        case .directory(let url):
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw ExportError.unresolvedReference(reference: reference.description,
                                                      detail: "no such directory (nor an artifact digest or PIPELINE:STAGE)")
            }
            return url
        case .digest(let prefix):
            let store = try open(reference)
            let matches = try store.artifacts().map(\.digest).filter { $0.hasPrefix(prefix.lowercased()) }
            guard !matches.isEmpty else {
                throw ExportError.unresolvedReference(reference: reference.description,
                                                      detail: "no artifact in \(workdir.path) has this digest; list them with `rlhf artifacts --workdir \(workdir.path)`")
            }
            guard matches.count == 1 else {
                throw ExportError.unresolvedReference(reference: reference.description,
                                                      detail: "ambiguous prefix: \(matches.count) artifacts match (\(matches.prefix(4).map { String($0.prefix(12)) }.joined(separator: ", ")), ...); give more digits")
            }
            return try existing(store.artifactURL(matches[0]), reference)
        case .pipelineStage(let pipeline, let stage):
            let store = try open(reference)
            let fileURL = URL(fileURLWithPath: pipeline).standardizedFileURL
            let runs = try store.runs(limit: 10_000).filter { r in
                r.pipeline == pipeline || r.file == fileURL.path
                    || URL(fileURLWithPath: r.file).deletingPathExtension().lastPathComponent == pipeline
            }
            guard !runs.isEmpty else {
                let known = Set(try store.runs(limit: 10_000).map(\.pipeline)).sorted()
                throw ExportError.unresolvedReference(reference: reference.description,
                                                      detail: "no run of pipeline '\(pipeline)' in \(workdir.path) (known: \(known.joined(separator: ", ")))")
            }
            var stages: Set<String> = []
            for run in runs {  // newest first
                for s in try store.stageRuns(run: run.id).reversed() {
                    stages.insert(s.stage)
                    if s.stage == stage, s.state == .succeeded || s.state == .cached, let digest = s.artifact {
                        return try existing(store.artifactURL(digest), reference)
                    }
                }
            }
            throw ExportError.unresolvedReference(reference: reference.description,
                                                  detail: stages.contains(stage)
                                                      ? "stage '\(stage)' never succeeded; run `rlhf run` for it first"
                                                      : "pipeline '\(pipeline)' has no stage '\(stage)' (stages: \(stages.sorted().joined(separator: ", ")))")
        }
    }

    private func open(_ reference: ModelReference) throws -> PipelineStore {
        do { return try PipelineStore(workdir: workdir, create: false) } catch let e as PipelineError {
            throw ExportError.unresolvedReference(reference: reference.description, detail: e.description)
        }
    }

    private func existing(_ url: URL, _ reference: ModelReference) throws -> URL {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ExportError.unresolvedReference(reference: reference.description,
                                                  detail: "its artifact directory \(url.path) is missing; run `rlhf cache verify` and re-run the pipeline")
        }
        return url
    }
}
