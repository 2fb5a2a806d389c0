import Crypto
import Foundation

// MARK: - Content digests

/// SHA-256 content digests of files and directory trees (the artifact addresses and input digests).
///
/// A directory's digest hashes, in byte order of the relative paths, one record per entry:
/// `F <path>\0<bytes>\0<sha256 of content>\n` for files, `D <path>\n` for directories and
/// `L <path>\0<target>\n` for symbolic links; names and content matter, times and permissions do not.
/// A file's digest is the SHA-256 of its bytes. Both are lowercase hex.
public enum ContentDigest {
    /// The digest of a file or directory tree at `url`.
    /// - Throws: `CocoaError` when the path does not exist or cannot be read.
    public static func of(_ url: URL) throws -> String {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: url.path])
        }
        if !isDir.boolValue { return try fileDigest(url) }
        return try tree(url).digest
    }

    /// SHA-256 of `data`, hex.
    public static func sha256Hex(_ data: Data) -> String { hex(SHA256.hash(data: data)) }

    /// SHA-256 of a string's UTF-8 bytes, hex.
    public static func sha256Hex(_ string: String) -> String { sha256Hex(Data(string.utf8)) }

    /// SHA-256 of a file's bytes, read in 1 MiB blocks.
    /// - Throws: `CocoaError` when the file cannot be opened.
    public static func fileDigest(_ url: URL) throws -> String {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            hasher.update(data: chunk)
        }
        return hex(hasher.finalize())
    }

    /// The digest of a directory tree plus its manifest (relative path, bytes, modification time).
    /// - Throws: `CocoaError` when an entry cannot be read.
    public static func tree(_ root: URL) throws -> (digest: String, manifest: ArtifactManifest) {
        var entries = try ArtifactManifest.scan(root).entries
        entries.sort { Array($0.path.utf8).lexicographicallyPrecedes(Array($1.path.utf8)) }
        var hasher = SHA256()
        for i in entries.indices {
            let e = entries[i]
            let full = root.appendingPathComponent(e.path)
            switch e.type {
            case .file:
                let d = try fileDigest(full)
                entries[i].sha256 = d
                hasher.update(data: Data("F \(e.path)\0\(e.bytes)\0\(d)\n".utf8))
            case .directory:
                hasher.update(data: Data("D \(e.path)\n".utf8))
            case .symlink:
                let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: full.path)) ?? ""
                hasher.update(data: Data("L \(e.path)\0\(target)\n".utf8))
            }
        }
        return (hex(hasher.finalize()), ArtifactManifest(entries: entries))
    }

    static func hex<D: Digest>(_ digest: D) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}

// MARK: - Manifests

/// The list of an artifact's entries with sizes and modification times, stored in SQLite for a fast
/// check on every cache hit (a mismatch triggers a full re-hash).
public struct ArtifactManifest: Sendable, Codable, Hashable {
    public enum EntryType: String, Sendable, Codable { case file, directory, symlink }
    public struct Entry: Sendable, Codable, Hashable {
        public var path: String
        public var type: EntryType
        public var bytes: Int64
        /// Modification time, nanoseconds since 1970.
        public var mtimeNS: Int64
        public var sha256: String?
    }
    public var entries: [Entry]

    /// Total bytes of regular files.
    public var bytes: Int64 { entries.reduce(0) { $0 + ($1.type == .file ? $1.bytes : 0) } }

    /// Lists `root` recursively (without hashing), paths relative to `root`.
    /// - Throws: `CocoaError` when `root` cannot be listed.
    public static func scan(_ root: URL) throws -> ArtifactManifest {
        var entries: [Entry] = []
        let rootPath = root.path
        func walk(_ rel: String) throws {
            let dir = rel.isEmpty ? rootPath : rootPath + "/" + rel
            for name in try FileManager.default.contentsOfDirectory(atPath: dir) {
                let relPath = rel.isEmpty ? name : rel + "/" + name
                var st = stat()
                guard lstat(rootPath + "/" + relPath, &st) == 0 else {
                    throw CocoaError(.fileReadUnknown, userInfo: [NSFilePathErrorKey: rootPath + "/" + relPath])
                }
                let mtime = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
                switch st.st_mode & S_IFMT {
                case S_IFDIR:
                    entries.append(Entry(path: relPath, type: .directory, bytes: 0, mtimeNS: 0))
                    try walk(relPath)
                case S_IFLNK:
                    entries.append(Entry(path: relPath, type: .symlink, bytes: 0, mtimeNS: 0))
                default:
                    entries.append(Entry(path: relPath, type: .file, bytes: Int64(st.st_size), mtimeNS: mtime))
                }
            }
        }
        try walk("")
        return ArtifactManifest(entries: entries)
    }

    /// Removes the write permission of every regular file of the artifact at `root` (directories stay
    /// writable so that `rlhf cache gc` can delete them); permissions are not part of the digest.
    static func makeReadOnly(_ root: URL, _ manifest: ArtifactManifest) {
        for e in manifest.entries where e.type == .file {
            let path = root.path + "/" + e.path
            var st = stat()
            if stat(path, &st) == 0 { chmod(path, st.st_mode & ~mode_t(0o222)) }
        }
    }

    /// Whether `other` (a fresh scan) lists the same entries with the same sizes and times.
    public func quickMatches(_ other: ArtifactManifest) -> Bool {
        guard entries.count == other.entries.count else { return false }
        let mine = Dictionary(entries.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        for e in other.entries {
            guard let m = mine[e.path], m.type == e.type, m.bytes == e.bytes, m.mtimeNS == e.mtimeNS else { return false }
        }
        return true
    }
}
