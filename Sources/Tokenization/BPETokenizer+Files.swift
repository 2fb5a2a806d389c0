import Foundation

// MARK: - Loading and saving

extension BPETokenizer {
    /// Loads `DIR/tokenizer.json`, and the special-token names of `DIR/tokenizer_config.json` if present.
    /// - Parameter directory: a Hugging Face tokenizer directory.
    /// - Throws: `TokenizerError.malformedTokenizerFile` (missing file, bad JSON, bad key) or
    ///   `.unsupported` (not byte-level BPE).
    public convenience init(directory: URL) throws {
        let jsonURL = directory.appendingPathComponent("tokenizer.json")
        let configURL = directory.appendingPathComponent("tokenizer_config.json")
        var names: [String: String] = [:]
        if FileManager.default.fileExists(atPath: configURL.path) {
            let data = try Self.read(configURL)
            names = try TokenizerJSON.parseConfig(data, path: configURL.path)
        }
        try self.init(tokenizerJSON: jsonURL, specialNames: names)
    }

    /// Loads a `tokenizer.json` file (BOS/EOS/PAD found by their Llama 3 names among the added tokens).
    /// - Throws: as `init(directory:)`.
    public convenience init(tokenizerJSON: URL) throws {
        try self.init(tokenizerJSON: tokenizerJSON, specialNames: [:])
    }

    /// Parses `tokenizer.json` bytes; `path` only labels errors.
    /// - Throws: as `init(directory:)`.
    public convenience init(jsonData: Data, path: String = "tokenizer.json") throws {
        var parts = try TokenizerJSON.parse(jsonData, path: path)
        Self.resolveSpecialNames(&parts, [:])
        try self.init(parts: parts, path: path)
    }

    private convenience init(tokenizerJSON url: URL, specialNames: [String: String]) throws {
        let data = try Self.read(url)
        var parts = try TokenizerJSON.parse(data, path: url.path)
        Self.resolveSpecialNames(&parts, specialNames)
        try self.init(parts: parts, path: url.path)
    }

    private static func read(_ url: URL) throws -> Data {
        do { return try Data(contentsOf: url) } catch {
            throw TokenizerError.malformedTokenizerFile(path: url.path, key: "(file)", reason: "cannot read: \(error.localizedDescription)")
        }
    }

    private static func resolveSpecialNames(_ parts: inout TokenizerParts, _ names: [String: String]) {
        let defaults = SpecialTokens()
        let added = Set(parts.addedTokens.map(\.content))
        func pick(_ key: String, _ fallback: String) -> String? {
            if let n = names[key] { return n }
            return added.contains(fallback) ? fallback : nil
        }
        parts.bosToken = pick("bos_token", defaults.bos)
        parts.eosToken = pick("eos_token", defaults.eos)
        parts.padToken = pick("pad_token", defaults.pad)
    }

    /// Writes `tokenizer.json`, `tokenizer_config.json` and `special_tokens_map.json` into `directory`.
    ///
    /// Atomic: a new directory is written under a temporary name and renamed into place; into an existing
    /// directory each file is written to a temporary name and renamed. Nothing half-written is left.
    /// - Parameter directory: destination; created if missing.
    /// - Throws: `TokenizerError.writeFailed` with the path and the system's reason.
    public func save(directory: URL) throws {
        let fm = FileManager.default
        let extras = addedTokens.filter { $0.special && ![bosToken, eosToken, padToken].contains($0.content) }.map(\.content)
        let files: [(String, Data)] = [
            ("tokenizer.json", canonicalJSON),
            ("tokenizer_config.json", TokenizerJSON.configJSON(bos: bosToken, eos: eosToken, pad: padToken, extra: extras)),
            ("special_tokens_map.json", TokenizerJSON.specialTokensMapJSON(bos: bosToken, eos: eosToken, pad: padToken, extra: extras)),
        ]
        let dir = directory.standardizedFileURL
        var isDir: ObjCBool = false
        do {
            if fm.fileExists(atPath: dir.path, isDirectory: &isDir) {
                guard isDir.boolValue else { throw TokenizerError.writeFailed(path: dir.path, reason: "exists and is not a directory") }
                for (name, data) in files {
                    let tmp = dir.appendingPathComponent(".\(name).tmp-\(UUID().uuidString)")
                    do {
                        try data.write(to: tmp)
                        // rename(2) replaces the old file atomically.
                        if rename(tmp.path, dir.appendingPathComponent(name).path) != 0 {
                            throw TokenizerError.writeFailed(path: dir.appendingPathComponent(name).path, reason: String(cString: strerror(errno)))
                        }
                    } catch {
                        try? fm.removeItem(at: tmp)
                        throw error
                    }
                }
            } else {
                let parent = dir.deletingLastPathComponent()
                try fm.createDirectory(at: parent, withIntermediateDirectories: true)
                let tmp = parent.appendingPathComponent(".\(dir.lastPathComponent).tmp-\(UUID().uuidString)")
                do {
                    try fm.createDirectory(at: tmp, withIntermediateDirectories: false)
                    for (name, data) in files { try data.write(to: tmp.appendingPathComponent(name)) }
                    try fm.moveItem(at: tmp, to: dir)
                } catch {
                    try? fm.removeItem(at: tmp)
                    throw error
                }
            }
        } catch let e as TokenizerError {
            throw e
        } catch {
            throw TokenizerError.writeFailed(path: dir.path, reason: error.localizedDescription)
        }
    }
}
