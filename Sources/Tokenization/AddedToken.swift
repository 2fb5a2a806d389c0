// MARK: - Added tokens

/// A token added on top of the BPE model (`added_tokens` in `tokenizer.json`), e.g. `<|end_of_text|>`.
///
/// Only `special` changes behaviour here: special tokens are matched in the text only when the caller
/// allows it and can be skipped on decode; non-special added tokens are always matched, as in Hugging
/// Face. `singleWord`, `lstrip`, `rstrip` and `normalized` are kept and written back unchanged.
public struct AddedToken: Sendable, Equatable {
    public var id: Int32
    public var content: String
    public var special: Bool
    public var singleWord: Bool
    public var lstrip: Bool
    public var rstrip: Bool
    public var normalized: Bool

    public init(id: Int32, content: String, special: Bool = true, singleWord: Bool = false, lstrip: Bool = false,
                rstrip: Bool = false, normalized: Bool = false) {
        self.id = id
        self.content = content
        self.special = special
        self.singleWord = singleWord
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.normalized = normalized
    }
}

// MARK: - Added-token matcher

/// Finds added tokens in UTF-8 text, leftmost-longest (Hugging Face's `AddedVocabulary` split).
struct AddedTokenMatcher: Sendable {
    private var byFirstByte: [[(bytes: [UInt8], id: Int32)]] = Array(repeating: [], count: 256)
    let isEmpty: Bool

    init(_ tokens: [AddedToken]) {
        for t in tokens {
            let b = Array(t.content.utf8)
            guard let f = b.first else { continue }
            byFirstByte[Int(f)].append((b, t.id))
        }
        for i in 0..<256 { byFirstByte[i].sort { $0.bytes.count > $1.bytes.count } }
        isEmpty = tokens.allSatisfy { $0.content.isEmpty }
    }

    /// The longest token starting at `i`: its id and length in bytes.
    @inline(__always)
    func match(_ p: UnsafeBufferPointer<UInt8>, at i: Int) -> (id: Int32, length: Int)? {
        let cands = byFirstByte[Int(p[i])]
        if cands.isEmpty { return nil }
        for c in cands where c.bytes.count <= p.count - i {
            var k = 1
            while k < c.bytes.count && c.bytes[k] == p[i + k] { k += 1 }
            if k == c.bytes.count { return (c.id, k) }
        }
        return nil
    }
}
