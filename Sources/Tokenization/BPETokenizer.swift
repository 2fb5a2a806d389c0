import Foundation

// MARK: - Model description

/// Everything a byte-level BPE tokenizer is made of, as stored in `tokenizer.json` (+ config files).
struct TokenizerParts {
    var vocab: [String: Int32]
    var merges: [(String, String)]
    var addedTokens: [AddedToken]
    var addPrefixSpace = false
    var trimOffsets = true
    var useRegex = true
    var postProcessor: PostProcessor = .none
    var ignoreMerges = false
    var unkToken: String?
    var fuseUnk = false
    var bosToken: String?
    var eosToken: String?
    var padToken: String?
}

// MARK: - Tokenizer

/// A byte-level BPE tokenizer (GPT-2 / Llama 3 style): encode, decode, save as Hugging Face `tokenizer.json`.
///
/// Immutable after creation, so one instance may be shared by many threads for `encode`/`decode`.
/// Token ids are `Int32` everywhere. Encoding is lossless for any bytes (`encode(bytes:)`,
/// `decodeBytes`); `decode` replaces invalid UTF-8 with U+FFFD.
///
/// BOS/EOS convention: a saved tokenizer has a `TemplateProcessing` post-processor that prepends
/// `<|begin_of_text|>` (as Llama 3), so `transformers`' `tokenizer(text)` and `encodeWithPostProcessor`
/// give `[bos] + ids`. `encode` never adds anything: the pretraining data loader writes each document
/// as `[bos] + encode(text) + [eos]`.
///
/// Source: Radford et al. 2019 (GPT-2) section 2.2 (byte-level BPE); Hugging Face tokenizers
/// (`models/bpe`, `pre_tokenizers/byte_level.rs`, `tokenizer/serialization.rs`).
public final class BPETokenizer: Sendable {
    // Vocabulary.
    let tokenStrings: [String?]
    let tokenIds: [String: Int32]
    let mergeStrings: [(String, String)]
    let pairs: PairTable
    let byteToId: [Int32]
    let vocabBytes: ByteSliceTable
    let vocabBytesIds: [Int32]
    let decodeOffsets: [Int]
    let decodeArena: [UInt8]
    let isSpecialId: [Bool]
    /// The added tokens (special and not), in id order.
    public let addedTokens: [AddedToken]
    let matcherAll: AddedTokenMatcher
    let matcherNonSpecial: AddedTokenMatcher
    // Pipeline settings.
    let addPrefixSpace: Bool
    let trimOffsets: Bool
    let useRegex: Bool
    let ignoreMerges: Bool
    let unkId: Int32
    let unkToken: String?
    let fuseUnk: Bool
    /// The post-processor `encodeWithPostProcessor` applies.
    public let postProcessor: PostProcessor
    /// Beginning-of-sequence token id (`<|begin_of_text|>` in trained tokenizers).
    public let bosTokenId: Int32?
    /// End-of-sequence token id (`<|end_of_text|>`).
    public let eosTokenId: Int32?
    /// Padding token id (`<|pad|>`, distinct from EOS).
    public let padTokenId: Int32?
    let bosToken: String?, eosToken: String?, padToken: String?
    /// The canonical `tokenizer.json` bytes (what `save` writes).
    public let canonicalJSON: Data
    /// SHA-256 (lowercase hex) of `canonicalJSON`: equal fingerprints mean identical tokenization.
    /// A tokenizer loaded from a file written by another program is re-serialized first, so the
    /// fingerprint does not depend on whitespace or key order.
    public let fingerprint: String

    /// Builds the tokenizer from its parts; `path` only labels errors.
    /// - Throws: `TokenizerError.malformedTokenizerFile` when a merge names a token that is not in the
    ///   vocabulary, or ids are negative.
    init(parts: TokenizerParts, path: String) throws {
        // Ids and strings.
        var maxId: Int32 = -1
        for (_, id) in parts.vocab {
            guard id >= 0 else { throw TokenizerError.malformedTokenizerFile(path: path, key: "model.vocab", reason: "negative id \(id)") }
            maxId = max(maxId, id)
        }
        for t in parts.addedTokens {
            guard t.id >= 0 else { throw TokenizerError.malformedTokenizerFile(path: path, key: "added_tokens", reason: "negative id \(t.id)") }
            maxId = max(maxId, t.id)
        }
        let count = Int(maxId) + 1
        var strings = [String?](repeating: nil, count: count)
        var ids = parts.vocab
        for (s, id) in parts.vocab { strings[Int(id)] = s }
        var special = [Bool](repeating: false, count: count)
        var addedById = [Int32: AddedToken]()
        for t in parts.addedTokens {
            strings[Int(t.id)] = t.content
            ids[t.content] = t.id
            special[Int(t.id)] = t.special
            addedById[t.id] = t
        }
        tokenStrings = strings
        tokenIds = ids
        isSpecialId = special
        addedTokens = parts.addedTokens.sorted { $0.id < $1.id }

        // Bytes of every token, for decoding, and the whole-word table for `ignore_merges`.
        var offsets = [Int](repeating: 0, count: count + 1)
        var arena: [UInt8] = []
        var table = ByteSliceTable(capacity: count)
        var tableIds: [Int32] = []
        for i in 0..<count {
            if let s = strings[i] {
                if let added = addedById[Int32(i)] {
                    arena.append(contentsOf: added.content.utf8)
                } else if let b = ByteLevel.bytes(ofTokenString: s) {
                    let start = arena.count
                    arena.append(contentsOf: b)
                    arena.withUnsafeBufferPointer { p in
                        if table.findOrInsert(p, start, p.count).inserted { tableIds.append(Int32(i)) }
                    }
                } else {
                    arena.append(contentsOf: s.utf8)
                }
            }
            offsets[i + 1] = arena.count
        }
        decodeOffsets = offsets
        decodeArena = arena
        vocabBytes = table
        vocabBytesIds = tableIds

        // Bytes -> initial symbols.
        var b2id = [Int32](repeating: -1, count: 256)
        for b in 0..<256 {
            let s = String(Unicode.Scalar(ByteLevel.byteToScalar[b])!)
            if let id = parts.vocab[s] { b2id[b] = id }
        }
        byteToId = b2id

        // Merges -> (rank, new id).
        var mergeIds: [(a: Int32, b: Int32, newId: Int32)] = []
        mergeIds.reserveCapacity(parts.merges.count)
        for (rank, m) in parts.merges.enumerated() {
            guard let a = parts.vocab[m.0], let b = parts.vocab[m.1] else {
                throw TokenizerError.malformedTokenizerFile(path: path, key: "model.merges[\(rank)]",
                                                            reason: "merge \(m.0.debugDescription) \(m.1.debugDescription) uses a token that is not in model.vocab")
            }
            guard let n = parts.vocab[m.0 + m.1] else {
                throw TokenizerError.malformedTokenizerFile(path: path, key: "model.merges[\(rank)]",
                                                            reason: "the merged token \((m.0 + m.1).debugDescription) is not in model.vocab")
            }
            mergeIds.append((a, b, n))
        }
        pairs = PairTable(merges: mergeIds)
        mergeStrings = parts.merges

        matcherAll = AddedTokenMatcher(parts.addedTokens)
        matcherNonSpecial = AddedTokenMatcher(parts.addedTokens.filter { !$0.special })
        addPrefixSpace = parts.addPrefixSpace
        trimOffsets = parts.trimOffsets
        useRegex = parts.useRegex
        ignoreMerges = parts.ignoreMerges
        unkToken = parts.unkToken
        unkId = parts.unkToken.flatMap { parts.vocab[$0] } ?? -1
        fuseUnk = parts.fuseUnk
        postProcessor = parts.postProcessor
        bosToken = parts.bosToken
        eosToken = parts.eosToken
        padToken = parts.padToken
        bosTokenId = parts.bosToken.flatMap { ids[$0] }
        eosTokenId = parts.eosToken.flatMap { ids[$0] }
        padTokenId = parts.padToken.flatMap { ids[$0] }

        canonicalJSON = TokenizerJSON.serialize(parts: parts, tokenStrings: strings, addedTokens: parts.addedTokens.sorted { $0.id < $1.id })
        fingerprint = sha256Hex(canonicalJSON)
    }

    // MARK: - Vocabulary

    /// Number of ids: one more than the largest id of the vocabulary and added tokens.
    public var vocabSize: Int { tokenStrings.count }

    /// The id of a token string (byte-level form such as `"Ġthe"`, or an added token's content).
    public func id(forToken token: String) -> Int32? { tokenIds[token] }

    /// The token string of an id, or `nil` if the id is out of range or unused.
    public func token(forId id: Int32) -> String? {
        guard id >= 0, Int(id) < tokenStrings.count else { return nil }
        return tokenStrings[Int(id)]
    }

    /// All token strings by id (`""` for an unused id).
    public var tokens: [String] { tokenStrings.map { $0 ?? "" } }

    /// The merges in rank order, as byte-level token strings (`("Ġ", "t")`).
    public var merges: [(String, String)] { mergeStrings }

    /// Whether `id` is a special added token (BOS, EOS, PAD, extras).
    public func isSpecial(_ id: Int32) -> Bool { id >= 0 && Int(id) < isSpecialId.count && isSpecialId[Int(id)] }

    // MARK: - Encode

    /// Encodes text to token ids without adding BOS/EOS.
    ///
    /// Example (a trained tokenizer): `encode("Hello world")` might be `[13225, 2375]`, and with
    /// `allowSpecial: true` the text `"a<|end_of_text|>"` yields `[..., eosTokenId]`.
    /// - Parameters:
    ///   - text: any text.
    ///   - allowSpecial: match special tokens written in `text` (like Hugging Face's default); when
    ///     `false` they are encoded as plain text. Non-special added tokens are always matched.
    /// - Returns: token ids, `[T]`.
    public func encode(_ text: String, allowSpecial: Bool = false) -> [Int32] {
        var t = text
        return t.withUTF8 { encode(bytes: $0, allowSpecial: allowSpecial) }
    }

    /// Encodes raw bytes (need not be valid UTF-8) to token ids; `decodeBytes` gives the bytes back.
    /// - Parameters:
    ///   - bytes: the input, `[N]` bytes.
    ///   - allowSpecial: as in `encode(_:allowSpecial:)`.
    /// - Returns: token ids, `[T]`.
    public func encode(bytes: UnsafeBufferPointer<UInt8>, allowSpecial: Bool = false) -> [Int32] {
        var state = EncodeState()
        var out: [Int32] = []
        out.reserveCapacity(bytes.count / 3 + 4)
        let matcher = allowSpecial ? matcherAll : matcherNonSpecial
        if matcher.isEmpty {
            encodeSegment(bytes, 0, bytes.count, &state, &out)
            return out
        }
        var segStart = 0
        var i = 0
        while i < bytes.count {
            if let m = matcher.match(bytes, at: i) {
                if segStart < i { encodeSegment(bytes, segStart, i, &state, &out) }
                out.append(m.id)
                i += m.length
                segStart = i
            } else {
                i += 1
            }
        }
        if segStart < bytes.count { encodeSegment(bytes, segStart, bytes.count, &state, &out) }
        return out
    }

    /// Encodes raw bytes (convenience over `encode(bytes:allowSpecial:)` for arrays).
    public func encode(bytes: [UInt8], allowSpecial: Bool = false) -> [Int32] {
        bytes.withUnsafeBufferPointer { encode(bytes: $0, allowSpecial: allowSpecial) }
    }

    /// Encodes text and applies the post-processor of `tokenizer.json`, like Hugging Face's
    /// `encode(text, add_special_tokens=True)`: with our saved tokenizers this prepends BOS.
    /// - Parameters:
    ///   - text: any text.
    ///   - allowSpecial: as in `encode(_:allowSpecial:)` (default `false`; Hugging Face matches them).
    /// - Returns: token ids, `[T]`.
    public func encodeWithPostProcessor(_ text: String, allowSpecial: Bool = false) -> [Int32] {
        postProcessor.applying(to: encode(text, allowSpecial: allowSpecial))
    }

    /// Per-call state: word cache and merge buffers (not shared between threads).
    struct EncodeState {
        var cache = ByteSliceTable(capacity: 4096)
        var cacheOffsets: [Int] = [0]
        var cacheIds: [Int32] = []
        var scratch = MergeScratch()
        var symbols: [Int32] = []
        var prefixed: [UInt8] = []
    }

    private static let maxCachedWordBytes = 256
    private static let maxCacheEntries = 1 << 20

    private func encodeSegment(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, _ st: inout EncodeState, _ out: inout [Int32]) {
        if start >= end { return }
        if addPrefixSpace && p[start] != 0x20 {
            // Hugging Face's ByteLevel(add_prefix_space=true) prepends a space to each segment.
            var buf = [UInt8](); buf.reserveCapacity(end - start + 1)
            buf.append(0x20)
            buf.append(contentsOf: UnsafeBufferPointer(rebasing: p[start..<end]))
            buf.withUnsafeBufferPointer { encodeSplit($0, 0, $0.count, &st, &out) }
        } else {
            encodeSplit(p, start, end, &st, &out)
        }
    }

    private func encodeSplit(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, _ st: inout EncodeState, _ out: inout [Int32]) {
        if !useRegex {
            encodeWord(p, start, end, &st, &out)
            return
        }
        let seg = UnsafeBufferPointer(rebasing: p[start..<end])
        gpt2Split(seg) { s, e in encodeWord(seg, s, e, &st, &out) }
    }

    @inline(__always)
    private func encodeWord(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, _ st: inout EncodeState, _ out: inout [Int32]) {
        let len = end - start
        if len == 1 {
            let id = byteToId[Int(p[start])]
            if id >= 0 { out.append(id) } else if unkId >= 0 { out.append(unkId) }
            return
        }
        let cacheable = len <= Self.maxCachedWordBytes
        var h: UInt64 = 0
        if cacheable {
            h = ByteSliceTable.hash(p, start, end)
            let e = st.cache.find(p, start, end, hash: h)
            if e >= 0 {
                let a = st.cacheOffsets[Int(e)], b = st.cacheOffsets[Int(e) + 1]
                st.cacheIds.withUnsafeBufferPointer { out.append(contentsOf: UnsafeBufferPointer(rebasing: $0[a..<b])) }
                return
            }
        }
        let outStart = out.count
        if ignoreMerges, let id = wholeWordId(p, start, end) {
            out.append(id)
        } else {
            st.symbols.removeAll(keepingCapacity: true)
            var lastUnk = false
            for k in start..<end {
                let id = byteToId[Int(p[k])]
                if id >= 0 {
                    st.symbols.append(id); lastUnk = false
                } else if unkId >= 0 && !(fuseUnk && lastUnk) {
                    st.symbols.append(unkId); lastUnk = true
                }
            }
            if !st.symbols.isEmpty {
                st.symbols.withUnsafeBufferPointer { applyMerges($0, pairs: pairs, scratch: &st.scratch, out: &out) }
            }
        }
        if cacheable && st.cache.count < Self.maxCacheEntries {
            st.cache.insertNew(p, start, end, hash: h)
            st.cacheIds.append(contentsOf: out[outStart...])
            st.cacheOffsets.append(st.cacheIds.count)
        }
    }

    private func wholeWordId(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int32? {
        let e = vocabBytes.find(p, start, end, hash: ByteSliceTable.hash(p, start, end))
        return e >= 0 ? vocabBytesIds[Int(e)] : nil
    }

    // MARK: - Decode

    /// Decodes ids to their exact bytes (lossless inverse of `encode(bytes:)`); unknown ids are skipped.
    /// - Parameter ids: token ids, `[T]`.
    /// - Returns: the bytes, special tokens as their UTF-8 content.
    public func decodeBytes(_ ids: [Int32]) -> [UInt8] {
        decodeBytes(ids, skipSpecial: false)
    }

    func decodeBytes(_ ids: [Int32], skipSpecial: Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(ids.count * 4)
        decodeArena.withUnsafeBufferPointer { arena in
            for id in ids {
                let i = Int(id)
                guard i >= 0, i < tokenStrings.count else { continue }
                if skipSpecial && isSpecialId[i] { continue }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: arena[decodeOffsets[i]..<decodeOffsets[i + 1]]))
            }
        }
        return out
    }

    /// Decodes ids to text; invalid UTF-8 (e.g. a cut multi-byte character) becomes U+FFFD.
    /// - Parameters:
    ///   - ids: token ids, `[T]`; unknown ids are skipped.
    ///   - skipSpecial: leave out special tokens (BOS, EOS, PAD, extras).
    /// - Returns: the text.
    public func decode(_ ids: [Int32], skipSpecial: Bool = false) -> String {
        String(decoding: decodeBytes(ids, skipSpecial: skipSpecial), as: UTF8.self)
    }
}
