import Foundation

// MARK: - Verification

/// Checks artifacts against their digests.
public enum ArtifactVerifier {
    public enum Outcome: Sendable, Equatable {
        case ok
        case corrupt(String)
    }

    /// Verifies an artifact. `full: false` compares the recorded manifest (paths, sizes, modification
    /// times) and re-hashes only on a mismatch; `full: true` always re-hashes every file.
    public static func verify(_ artifact: ArtifactRecord, store: PipelineStore, full: Bool) -> Outcome {
        let url = store.artifactURL(artifact.digest)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), isDir.boolValue else {
            return .corrupt("the directory \(url.path) is missing")
        }
        if !full, let recorded = try? JSONDecoder().decode(ArtifactManifest.self, from: Data(artifact.manifest.utf8)),
           let now = try? ArtifactManifest.scan(url), recorded.quickMatches(now) {
            return .ok
        }
        guard let (digest, _) = try? ContentDigest.tree(url) else { return .corrupt("cannot read \(url.path)") }
        return digest == artifact.digest ? .ok : .corrupt("its content hashes to \(digest.prefix(12)), not \(artifact.digest.prefix(12))")
    }

    /// Removes a corrupt artifact from the cache and moves its directory to `<workdir>/quarantine/`
    /// (nothing is deleted).
    /// - Throws: `PipelineError.database` when the store fails.
    public static func evict(_ artifact: ArtifactRecord, store: PipelineStore) throws {
        try store.forgetArtifact(artifact.digest)
        let url = store.artifactURL(artifact.digest)
        if FileManager.default.fileExists(atPath: url.path) {
            let aside = store.workdir.appendingPathComponent("quarantine/\(artifact.digest)-\(UUID().uuidString)")
            try? FileManager.default.moveItem(at: url, to: aside)
        }
    }
}
