import Crypto
import Foundation

// MARK: - tokenizer.json: write

/// Reading and writing Hugging Face `tokenizer.json` (format "1.0" of tokenizers 0.23).
///
/// Source: huggingface/tokenizers `tokenizer/serialization.rs`, `models/bpe/serialization.rs`,
/// `processors/template.rs`.
enum TokenizerJSON {
    static func serialize(parts: TokenizerParts, tokenStrings: [String?], addedTokens: [AddedToken]) -> Data {
        let added: [JSONValue] = addedTokens.map { t in
            .object([("id", .int(Int(t.id))), ("content", .string(t.content)), ("single_word", .bool(t.singleWord)),
                     ("lstrip", .bool(t.lstrip)), ("rstrip", .bool(t.rstrip)), ("normalized", .bool(t.normalized)),
                     ("special", .bool(t.special))])
        }
        let vocab = parts.vocab.sorted { $0.value < $1.value }.map { ($0.key, JSONValue.int(Int($0.value))) }
        let merges = parts.merges.map { JSONValue.array([.string($0.0), .string($0.1)]) }
        let model: JSONValue = .object([
            ("type", .string("BPE")), ("dropout", .null),
            ("unk_token", parts.unkToken.map { .string($0) } ?? .null),
            ("continuing_subword_prefix", .null), ("end_of_word_suffix", .null),
            ("fuse_unk", .bool(parts.fuseUnk)), ("byte_fallback", .bool(false)),
            ("ignore_merges", .bool(parts.ignoreMerges)),
            ("vocab", .object(vocab)), ("merges", .array(merges)),
        ])
        let root: JSONValue = .object([
            ("version", .string("1.0")), ("truncation", .null), ("padding", .null),
            ("added_tokens", .array(added)), ("normalizer", .null),
            ("pre_tokenizer", byteLevelJSON(parts.addPrefixSpace, parts.trimOffsets, parts.useRegex)),
            ("post_processor", postProcessorJSON(parts.postProcessor)),
            ("decoder", byteLevelJSON(true, true, true)),
            ("model", model),
        ])
        return root.prettyBytes()
    }

    static func byteLevelJSON(_ addPrefixSpace: Bool, _ trimOffsets: Bool, _ useRegex: Bool) -> JSONValue {
        .object([("type", .string("ByteLevel")), ("add_prefix_space", .bool(addPrefixSpace)),
                 ("trim_offsets", .bool(trimOffsets)), ("use_regex", .bool(useRegex))])
    }

    static func postProcessorJSON(_ p: PostProcessor) -> JSONValue {
        switch p {
        case .none: return .null
        case let .byteLevel(a, t, u): return byteLevelJSON(a, t, u)
        case let .sequence(ps): return .object([("type", .string("Sequence")), ("processors", .array(ps.map(postProcessorJSON)))])
        case let .template(t):
            func pieces(_ ps: [TemplatePiece]) -> JSONValue {
                .array(ps.map { piece in
                    switch piece {
                    case let .specialToken(id, typeId):
                        return .object([("SpecialToken", .object([("id", .string(id)), ("type_id", .int(typeId))]))])
                    case let .sequence(id, typeId):
                        return .object([("Sequence", .object([("id", .string(id)), ("type_id", .int(typeId))]))])
                    }
                })
            }
            let specials = t.specialTokens.sorted { $0.name < $1.name }.map { st in
                (st.name, JSONValue.object([("id", .string(st.name)), ("ids", .array(st.ids.map { .int(Int($0)) })),
                                            ("tokens", .array(st.tokens.map { .string($0) }))]))
            }
            return .object([("type", .string("TemplateProcessing")), ("single", pieces(t.single)),
                            ("pair", pieces(t.pair)), ("special_tokens", .object(specials))])
        }
    }

    // MARK: - tokenizer.json: read

    /// Parses `tokenizer.json` bytes into tokenizer parts.
    /// - Throws: `TokenizerError.malformedTokenizerFile` (not JSON, missing or mistyped key) or
    ///   `.unsupported` (a component other than byte-level BPE), both naming `path` and the key.
    static func parse(_ data: Data, path: String) throws -> TokenizerParts {
        func bad(_ key: String, _ reason: String) -> TokenizerError { .malformedTokenizerFile(path: path, key: key, reason: reason) }
        func unsupported(_ key: String, _ value: Any) -> TokenizerError { .unsupported(path: path, key: key, value: "\(value)") }
        let any: Any
        do { any = try JSONSerialization.jsonObject(with: data) } catch {
            throw bad("(root)", "not valid JSON: \(error.localizedDescription)")
        }
        guard let root = any as? [String: Any] else { throw bad("(root)", "expected a JSON object") }
        guard let model = root["model"] as? [String: Any] else { throw bad("model", "missing or not an object") }
        if let type = model["type"], (type as? String) != "BPE" { throw unsupported("model.type", type) }
        guard let vocabAny = model["vocab"] as? [String: Any] else { throw bad("model.vocab", "missing or not an object") }
        var vocab = [String: Int32](minimumCapacity: vocabAny.count)
        for (k, v) in vocabAny {
            guard let n = v as? Int, n >= 0, n <= Int(Int32.max) else { throw bad("model.vocab[\(k.debugDescription)]", "id must be a non-negative integer") }
            vocab[k] = Int32(n)
        }
        guard let mergesAny = model["merges"] as? [Any] else { throw bad("model.merges", "missing or not an array") }
        var merges: [(String, String)] = []
        merges.reserveCapacity(mergesAny.count)
        for (i, m) in mergesAny.enumerated() {
            if let pair = m as? [Any], pair.count == 2, let a = pair[0] as? String, let b = pair[1] as? String {
                merges.append((a, b))
            } else if let s = m as? String {
                let parts = s.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw bad("model.merges[\(i)]", "expected \"a b\", got \(s.debugDescription)") }
                merges.append((String(parts[0]), String(parts[1])))
            } else {
                throw bad("model.merges[\(i)]", "expected [\"a\", \"b\"] or \"a b\"")
            }
        }
        if let d = model["dropout"], !(d is NSNull), (d as? Double ?? 1) != 0 { throw unsupported("model.dropout", d) }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let v = model[key], !(v is NSNull), (v as? String ?? "x") != "" { throw unsupported("model.\(key)", v) }
        }
        if let bf = model["byte_fallback"] as? Bool, bf { throw unsupported("model.byte_fallback", true) }

        var parts = TokenizerParts(vocab: vocab, merges: merges, addedTokens: [])
        parts.ignoreMerges = model["ignore_merges"] as? Bool ?? false
        parts.fuseUnk = model["fuse_unk"] as? Bool ?? false
        parts.unkToken = model["unk_token"] as? String

        if let added = root["added_tokens"], !(added is NSNull) {
            guard let list = added as? [Any] else { throw bad("added_tokens", "expected an array") }
            for (i, item) in list.enumerated() {
                guard let o = item as? [String: Any], let id = o["id"] as? Int, id >= 0, let content = o["content"] as? String else {
                    throw bad("added_tokens[\(i)]", "expected {\"id\": int, \"content\": string, ...}")
                }
                parts.addedTokens.append(AddedToken(
                    id: Int32(clamping: id), content: content, special: o["special"] as? Bool ?? false,
                    singleWord: o["single_word"] as? Bool ?? false, lstrip: o["lstrip"] as? Bool ?? false,
                    rstrip: o["rstrip"] as? Bool ?? false, normalized: o["normalized"] as? Bool ?? false))
            }
        }
        if let n = root["normalizer"], !(n is NSNull) { throw unsupported("normalizer", (n as? [String: Any])?["type"] ?? n) }

        // Pre-tokenizer: ByteLevel, possibly alone in a Sequence.
        var pre = root["pre_tokenizer"] as? [String: Any]
        if let p = pre, (p["type"] as? String) == "Sequence", let inner = p["pretokenizers"] as? [Any], inner.count == 1 {
            pre = inner[0] as? [String: Any]
        }
        guard let pt = pre, (pt["type"] as? String) == "ByteLevel" else {
            throw unsupported("pre_tokenizer", (root["pre_tokenizer"] as? [String: Any])?["type"] ?? "null")
        }
        parts.addPrefixSpace = pt["add_prefix_space"] as? Bool ?? true
        parts.trimOffsets = pt["trim_offsets"] as? Bool ?? true
        parts.useRegex = pt["use_regex"] as? Bool ?? true

        if let d = root["decoder"], !(d is NSNull) {
            guard let o = d as? [String: Any], (o["type"] as? String) == "ByteLevel" else {
                throw unsupported("decoder", (d as? [String: Any])?["type"] ?? d)
            }
        }
        parts.postProcessor = try parsePostProcessor(root["post_processor"], key: "post_processor", path: path, vocab: vocab)
        return parts
    }

    static func parsePostProcessor(_ any: Any?, key: String, path: String, vocab: [String: Int32]) throws -> PostProcessor {
        func bad(_ reason: String) -> TokenizerError { .malformedTokenizerFile(path: path, key: key, reason: reason) }
        guard let any, !(any is NSNull) else { return .none }
        guard let o = any as? [String: Any], let type = o["type"] as? String else { throw bad("expected an object with a \"type\"") }
        switch type {
        case "ByteLevel":
            return .byteLevel(addPrefixSpace: o["add_prefix_space"] as? Bool ?? true, trimOffsets: o["trim_offsets"] as? Bool ?? true,
                              useRegex: o["use_regex"] as? Bool ?? true)
        case "Sequence":
            guard let ps = o["processors"] as? [Any] else { throw bad("Sequence without \"processors\"") }
            return .sequence(try ps.enumerated().map { try parsePostProcessor($1, key: "\(key).processors[\($0)]", path: path, vocab: vocab) })
        case "TemplateProcessing":
            func pieces(_ name: String) throws -> [TemplatePiece] {
                guard let list = o[name] as? [Any] else { throw bad("TemplateProcessing without \"\(name)\"") }
                return try list.map { item in
                    guard let p = item as? [String: Any] else { throw bad("\(name): expected objects") }
                    if let st = p["SpecialToken"] as? [String: Any], let id = st["id"] as? String {
                        return .specialToken(id: id, typeId: st["type_id"] as? Int ?? 0)
                    }
                    if let sq = p["Sequence"] as? [String: Any], let id = sq["id"] as? String {
                        return .sequence(id: id, typeId: sq["type_id"] as? Int ?? 0)
                    }
                    throw bad("\(name): expected {\"SpecialToken\": ...} or {\"Sequence\": ...}")
                }
            }
            var specials: [(name: String, ids: [Int32], tokens: [String])] = []
            if let st = o["special_tokens"] as? [String: Any] {
                for (name, v) in st.sorted(by: { $0.key < $1.key }) {
                    guard let e = v as? [String: Any], let ids = e["ids"] as? [Int], let toks = e["tokens"] as? [String] else {
                        throw bad("special_tokens[\(name.debugDescription)]: expected {\"id\", \"ids\", \"tokens\"}")
                    }
                    specials.append((name, ids.map { Int32(clamping: $0) }, toks))
                }
            }
            let t = TemplateProcessing(single: try pieces("single"), pair: try pieces("pair"), specialTokens: specials)
            for case let .specialToken(id, _) in t.single + t.pair where !specials.contains(where: { $0.name == id }) {
                throw bad("template uses \(id.debugDescription) which is not in special_tokens")
            }
            return .template(t)
        default:
            throw TokenizerError.unsupported(path: path, key: "\(key).type", value: type)
        }
    }

    // MARK: - Config files

    /// Reads `bos_token`, `eos_token`, `pad_token` of `tokenizer_config.json` (string or `{"content": ...}`).
    static func parseConfig(_ data: Data, path: String) throws -> [String: String] {
        guard let o = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw TokenizerError.malformedTokenizerFile(path: path, key: "(root)", reason: "not a JSON object")
        }
        var out: [String: String] = [:]
        for key in ["bos_token", "eos_token", "pad_token"] {
            if let s = o[key] as? String { out[key] = s } else if let d = o[key] as? [String: Any], let s = d["content"] as? String { out[key] = s }
        }
        return out
    }

    static func configJSON(bos: String?, eos: String?, pad: String?, extra: [String]) -> Data {
        var fields: [(String, JSONValue)] = []
        fields.append(("bos_token", bos.map { .string($0) } ?? .null))
        fields.append(("clean_up_tokenization_spaces", .bool(false)))
        fields.append(("eos_token", eos.map { .string($0) } ?? .null))
        if !extra.isEmpty { fields.append(("extra_special_tokens", .array(extra.map { .string($0) }))) }
        fields.append(("model_input_names", .array([.string("input_ids"), .string("attention_mask")])))
        fields.append(("pad_token", pad.map { .string($0) } ?? .null))
        fields.append(("tokenizer_class", .string("PreTrainedTokenizerFast")))
        return JSONValue.object(fields).prettyBytes() + Data("\n".utf8)
    }

    static func specialTokensMapJSON(bos: String?, eos: String?, pad: String?, extra: [String]) -> Data {
        var fields: [(String, JSONValue)] = []
        if !extra.isEmpty { fields.append(("additional_special_tokens", .array(extra.map { .string($0) }))) }
        if let bos { fields.append(("bos_token", .string(bos))) }
        if let eos { fields.append(("eos_token", .string(eos))) }
        if let pad { fields.append(("pad_token", .string(pad))) }
        return JSONValue.object(fields).prettyBytes() + Data("\n".utf8)
    }
}

/// SHA-256 of `data` as lowercase hex.
func sha256Hex(_ data: Data) -> String {
    SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
}
