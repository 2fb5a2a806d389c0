// The Hugging Face post-processors we read, apply and write back.

// MARK: - Post-processor

/// A `tokenizer.json` post-processor: what `encodeWithPostProcessor` adds around the encoded text.
///
/// Source: Hugging Face tokenizers `processors/template.rs`, `processors/sequence.rs`,
/// `pre_tokenizers/byte_level.rs` (ByteLevel as a post-processor only adjusts offsets).
public indirect enum PostProcessor: Sendable, Equatable {
    /// No post-processing (`"post_processor": null`), as GPT-2.
    case none
    /// ByteLevel offset trimming: leaves ids unchanged.
    case byteLevel(addPrefixSpace: Bool, trimOffsets: Bool, useRegex: Bool)
    /// `TemplateProcessing`; our trained tokenizers use `single = <|begin_of_text|> $A` as Llama 3 does.
    case template(TemplateProcessing)
    /// Several processors applied in order.
    case sequence([PostProcessor])

    /// Applies the single-sequence template to `ids` (pure).
    ///
    /// Example: `.template(single: [<|begin_of_text|>, $A])` turns `[17, 4]` into `[0, 17, 4]`.
    /// - Parameter ids: the encoded text, `[T]`.
    /// - Returns: the ids with the template's special tokens added.
    public func applying(to ids: [Int32]) -> [Int32] {
        switch self {
        case .none, .byteLevel: return ids
        case let .template(t): return t.applySingle(ids)
        case let .sequence(ps): return ps.reduce(ids) { $1.applying(to: $0) }
        }
    }
}

/// A piece of a template: a special token or the input sequence (`$A`, `$B`).
public enum TemplatePiece: Sendable, Equatable {
    case specialToken(id: String, typeId: Int)
    case sequence(id: String, typeId: Int)
}

/// Hugging Face `TemplateProcessing`: templates for one and two sequences and the special tokens they use.
public struct TemplateProcessing: Sendable, Equatable {
    public var single: [TemplatePiece]
    public var pair: [TemplatePiece]
    /// Special tokens by name: the ids (and token strings) each one stands for.
    public var specialTokens: [(name: String, ids: [Int32], tokens: [String])]

    public static func == (l: Self, r: Self) -> Bool {
        l.single == r.single && l.pair == r.pair && l.specialTokens.count == r.specialTokens.count
            && zip(l.specialTokens, r.specialTokens).allSatisfy { $0.name == $1.name && $0.ids == $1.ids && $0.tokens == $1.tokens }
    }

    /// The Llama 3 template: BOS before each sequence (`<bos> $A`, `<bos> $A <bos> $B`).
    static func prependBOS(_ bos: String, id: Int32) -> TemplateProcessing {
        TemplateProcessing(
            single: [.specialToken(id: bos, typeId: 0), .sequence(id: "A", typeId: 0)],
            pair: [.specialToken(id: bos, typeId: 0), .sequence(id: "A", typeId: 0),
                   .specialToken(id: bos, typeId: 1), .sequence(id: "B", typeId: 1)],
            specialTokens: [(bos, [id], [bos])])
    }

    func applySingle(_ ids: [Int32]) -> [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(ids.count + 2)
        for piece in single {
            switch piece {
            case let .specialToken(name, _):
                if let st = specialTokens.first(where: { $0.name == name }) { out.append(contentsOf: st.ids) }
            case .sequence:
                out.append(contentsOf: ids)
            }
        }
        return out
    }
}
