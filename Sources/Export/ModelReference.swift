import Foundation

/// What `rlhf export MODEL` names: a model directory, an artifact digest, or a pipeline stage's output.
///
/// Only `.directory` resolves today; the orchestrator supplies a `ModelReferenceResolver` that maps
/// digests and `PIPELINE:STAGE` to artifact directories in its store.
public enum ModelReference: Equatable, Sendable, CustomStringConvertible {
    /// A directory on disk in the Hugging Face Llama layout.
    case directory(URL)
    /// A content digest of an artifact (64 hex digits, optionally prefixed `sha256:`).
    case digest(String)
    /// The model output of stage `stage` of pipeline `pipeline` (a name or a YAML path).
    case pipelineStage(pipeline: String, stage: String)

    /// Parses a command-line argument.
    ///
    /// An existing directory wins; otherwise 64 hex digits (optionally `sha256:`-prefixed) is a digest,
    /// `A:B` is a pipeline stage, anything else a directory path (which fails later if it is missing).
    /// Example: `"runs/tiny"` → `.directory`, `"sha256:ab12…"` → `.digest("ab12…")`, `"tiny.yaml:ppo"` → `.pipelineStage`.
    public static func parse(_ text: String) -> ModelReference {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: text, isDirectory: &isDirectory), isDirectory.boolValue {
            return .directory(URL(fileURLWithPath: text))
        }
        let hex = text.hasPrefix("sha256:") ? String(text.dropFirst(7)) : text
        if hex.count == 64, hex.allSatisfy({ $0.isHexDigit }) { return .digest(hex.lowercased()) }
        if let colon = text.lastIndex(of: ":"), colon != text.startIndex, text.index(after: colon) != text.endIndex {
            return .pipelineStage(pipeline: String(text[..<colon]), stage: String(text[text.index(after: colon)...]))
        }
        return .directory(URL(fileURLWithPath: text))
    }

    public var description: String {
        switch self {
        case let .directory(url): return url.path
        case let .digest(d): return "sha256:\(d)"
        case let .pipelineStage(p, s): return "\(p):\(s)"
        }
    }
}

/// Maps a `ModelReference` to a model directory (the seam the orchestrator's artifact store fills).
public protocol ModelReferenceResolver: Sendable {
    /// Returns the directory that holds the referenced model.
    /// - Throws: `ExportError.unresolvedReference` when the reference names nothing known.
    func resolve(_ reference: ModelReference) throws -> URL
}

/// Resolves only `.directory` references; digests and pipeline stages need the artifact store.
public struct DirectoryModelResolver: ModelReferenceResolver {
    /// Creates the resolver.
    public init() {}

    /// - Throws: `ExportError.unresolvedReference` for `.digest` and `.pipelineStage`.
    public func resolve(_ reference: ModelReference) throws -> URL {
        switch reference {
        case let .directory(url): return url
        case .digest, .pipelineStage:
            throw ExportError.unresolvedReference(
                reference: reference.description,
                detail: "artifact digests and PIPELINE:STAGE references need the pipeline's artifact store; pass a model directory (e.g. <workdir>/artifacts/<digest>)")
        }
    }
}
