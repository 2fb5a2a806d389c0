import Foundation

/// A byte-level BPE tokenizer as stored in Hugging Face `tokenizer.json`, read for export.
///
/// Reads the file directly (not through `Tokenization`) so that any tokenizer.json written by HF
/// tokenizers or by our `BPETokenizer` exports the same way. Merges are accepted in both spellings
/// (`["a", "b"]` and `"a b"`). Source: huggingface/tokenizers `models/bpe/serialization.rs`,
/// `pre_tokenizers/byte_level.rs`.
public struct TokenizerFiles: Sendable {
    /// An entry of `added_tokens`.
    public struct AddedToken: Equatable, Sendable {
        /// Token id.
        public var id: Int
        /// Token text, e.g. `<|endoftext|>`.
        public var content: String
        /// `special` flag (control token: GGUF type 3).
        public var special: Bool
    }

    /// The raw bytes of `tokenizer.json` (copied verbatim by the HF export).
    public let tokenizerJSON: Data
    /// `tokenizer_config.json`, when present.
    public let tokenizerConfigJSON: Data?
    /// `special_tokens_map.json`, when present.
    public let specialTokensMapJSON: Data?
    /// Token strings by id (byte-level alphabet, e.g. `Ġthe`), holes filled with `[PAD{id}]`.
    public let tokens: [String]
    /// Ids that no vocabulary entry or added token defines (filled by `[PAD{id}]`).
    public let holes: Set<Int>
    /// Merges as `"left right"` strings, in rank order.
    public let merges: [String]
    /// Added tokens (specials such as `<|endoftext|>`).
    public let addedTokens: [AddedToken]
    /// The pre-tokenizer: true when it is GPT-2's (`ByteLevel` with `use_regex` true, no normalizer).
    public let isGPT2PreTokenizer: Bool
    /// `add_prefix_space` of the ByteLevel pre-tokenizer.
    public let addPrefixSpace: Bool
    /// Whether encoding prepends BOS (`add_bos_token` in tokenizer_config.json, else a
    /// `TemplateProcessing` post-processor that emits a special token first).
    public let addsBOS: Bool
    /// The `chat_template` of tokenizer_config.json, if any.
    public let chatTemplate: String?

    /// Reads `tokenizer.json` and, when present, `tokenizer_config.json` and `special_tokens_map.json`.
    /// - Throws: `ExportError.invalidTokenizer` when tokenizer.json is missing, not JSON, not a BPE
    ///   model, or has ids out of order (negative, duplicated).
    public static func read(directory: URL) throws -> TokenizerFiles {
        let url = directory.appendingPathComponent("tokenizer.json")
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ExportError.invalidTokenizer(path: url.path, detail: "tokenizer.json is missing; save the tokenizer with the model (BPETokenizer.write or tokenizer.save_pretrained)")
        }
        func optional(_ name: String) -> Data? { FileManager.default.contents(atPath: directory.appendingPathComponent(name).path) }
        return try TokenizerFiles(tokenizerJSON: data, tokenizerConfigJSON: optional("tokenizer_config.json"),
                                  specialTokensMapJSON: optional("special_tokens_map.json"), path: url.path)
    }

    /// Parses tokenizer files already in memory (see `read(directory:)`).
    public init(tokenizerJSON: Data, tokenizerConfigJSON: Data? = nil, specialTokensMapJSON: Data? = nil, path: String = "tokenizer.json") throws {
        func fail(_ detail: String) -> ExportError { .invalidTokenizer(path: path, detail: detail) }
        guard let root = (try? JSONSerialization.jsonObject(with: tokenizerJSON)) as? [String: Any] else { throw fail("not a JSON object") }
        guard let model = root["model"] as? [String: Any] else { throw fail("missing \"model\"") }
        guard (model["type"] as? String ?? "BPE") == "BPE" else { throw fail("model type '\(model["type"] ?? "")' is not BPE; only byte-level BPE tokenizers are exported") }
        guard let vocab = model["vocab"] as? [String: Any] else { throw fail("model.vocab is missing") }
        var byId: [Int: String] = [:]
        for (token, value) in vocab {
            guard let id = (value as? NSNumber)?.intValue, id >= 0 else { throw fail("vocab entry '\(token)' has no valid id") }
            if let other = byId[id], other != token { throw fail("id \(id) is given to both '\(other)' and '\(token)'") }
            byId[id] = token
        }
        var added: [AddedToken] = []
        for item in root["added_tokens"] as? [[String: Any]] ?? [] {
            guard let id = (item["id"] as? NSNumber)?.intValue, id >= 0, let content = item["content"] as? String else {
                throw fail("an added_tokens entry lacks id or content")
            }
            if let other = byId[id], other != content { throw fail("added token '\(content)' reuses id \(id) of '\(other)'") }
            byId[id] = content
            added.append(AddedToken(id: id, content: content, special: item["special"] as? Bool ?? false))
        }
        let count = (byId.keys.max() ?? -1) + 1
        var list: [String] = []
        var missing: Set<Int> = []
        list.reserveCapacity(count)
        for id in 0..<count {
            if let t = byId[id] { list.append(t) } else { list.append("[PAD\(id)]"); missing.insert(id) }
        }
        var mergeList: [String] = []
        for (i, m) in (model["merges"] as? [Any] ?? []).enumerated() {
            if let s = m as? String { mergeList.append(s) } else if let pair = m as? [String], pair.count == 2 {
                guard !pair[0].contains(" "), !pair[1].contains(" ") else { throw fail("merge \(i) \(pair) contains a space, which GGUF's \"a b\" merges cannot hold") }
                mergeList.append("\(pair[0]) \(pair[1])")
            } else { throw fail("merge \(i) is neither \"a b\" nor [\"a\", \"b\"]") }
        }
        // Pre-tokenizer: GPT-2's regex is ByteLevel(use_regex: true) alone (or inside a one-element Sequence).
        var pre = root["pre_tokenizer"] as? [String: Any]
        if pre?["type"] as? String == "Sequence", let inner = pre?["pretokenizers"] as? [[String: Any]], inner.count == 1 { pre = inner[0] }
        let normalizerIsNull = root["normalizer"] == nil || root["normalizer"] is NSNull
        isGPT2PreTokenizer = normalizerIsNull && pre?["type"] as? String == "ByteLevel" && (pre?["use_regex"] as? Bool ?? true)
        addPrefixSpace = pre?["add_prefix_space"] as? Bool ?? false

        let tokenizerConfig = tokenizerConfigJSON.flatMap { (try? JSONSerialization.jsonObject(with: $0)) as? [String: Any] }
        if let flag = tokenizerConfig?["add_bos_token"] as? Bool {
            addsBOS = flag
        } else if let post = root["post_processor"] as? [String: Any], post["type"] as? String == "TemplateProcessing",
                  let single = post["single"] as? [[String: Any]], let first = single.first {
            addsBOS = first["SpecialToken"] != nil
        } else {
            addsBOS = false
        }
        chatTemplate = tokenizerConfig?["chat_template"] as? String
        self.tokenizerJSON = tokenizerJSON
        self.tokenizerConfigJSON = tokenizerConfigJSON
        self.specialTokensMapJSON = specialTokensMapJSON
        tokens = list
        holes = missing
        merges = mergeList
        addedTokens = added.sorted { $0.id < $1.id }
    }

    /// GGUF token types by id: 3 control (special added tokens), 4 user-defined (other added tokens),
    /// 5 unused (holes and padding), 1 normal. Source: ggml `docs/gguf.md` (`tokenizer.ggml.token_type`).
    public func ggufTokenTypes() -> [Int32] {
        var types = [Int32](repeating: 1, count: tokens.count)
        for id in holes { types[id] = 5 }
        for t in addedTokens { types[t.id] = t.special ? 3 : 4 }
        return types
    }

    /// The token string of `id`, or nil when out of range.
    public func token(_ id: Int?) -> String? {
        guard let id, id >= 0, id < tokens.count else { return nil }
        return tokens[id]
    }
}
