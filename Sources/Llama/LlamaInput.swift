// The batch a Llama forward consumes and the tensors it returns.

import Tensors

// MARK: - Input

/// A batch of B sequences of T tokens, row-major `[B*T]`, optionally left-padded.
///
/// Left padding (as Hugging Face generation and TRL do): pad tokens first, `attentionMask` 0 there,
/// and `positionIds = cumsum(mask) - 1` (clamped at 0) so each real token sits at the position it would
/// have alone. `LlamaInput.leftPadded` builds exactly that.
public struct LlamaInput: Sendable {
    /// Token ids `[B*T]`, each in `0..<vocab_size`.
    public var tokens: [Int32]
    /// B.
    public var batch: Int
    /// T, in tokens.
    public var seqLen: Int
    /// Position of each token `[B*T]` (RoPE angle index); nil means `0..<T` for every row.
    public var positionIds: [Int32]?
    /// `[B*T]`, 1 for a real token, 0 for padding (keys that no query may attend to); nil means all real.
    public var attentionMask: [UInt8]?

    /// Creates an input; see the properties for shapes.
    public init(tokens: [Int32], batch: Int, seqLen: Int, positionIds: [Int32]? = nil, attentionMask: [UInt8]? = nil) {
        self.tokens = tokens
        self.batch = batch
        self.seqLen = seqLen
        self.positionIds = positionIds
        self.attentionMask = attentionMask
    }

    /// Left-pads sequences of different lengths to the longest, with HF's mask and position ids.
    /// - Parameters:
    ///   - sequences: B token lists (each non-empty).
    ///   - padToken: id written into padded slots (never attended to).
    /// - Returns: an input with `seqLen = max length`, `attentionMask`, `positionIds = cumsum(mask) - 1`
    ///   (0 on pads).
    public static func leftPadded(_ sequences: [[Int32]], padToken: Int32) -> LlamaInput {
        let t = sequences.map(\.count).max() ?? 0
        var tokens = [Int32](), mask = [UInt8](), pos = [Int32]()
        for s in sequences {
            let pad = t - s.count
            tokens += [Int32](repeating: padToken, count: pad) + s
            mask += [UInt8](repeating: 0, count: pad) + [UInt8](repeating: 1, count: s.count)
            pos += [Int32](repeating: 0, count: pad) + (0..<Int32(s.count)).map { $0 }
        }
        return LlamaInput(tokens: tokens, batch: sequences.count, seqLen: t, positionIds: pos, attentionMask: mask)
    }

    /// Checks the sizes and token ids against a config.
    /// - Throws: `LlamaError.invalidInput` naming the field and index (a token id outside the vocabulary,
    ///   a negative position, arrays whose length is not B*T, an empty batch).
    public func validate(for config: LlamaConfig) throws {
        let n = batch * seqLen
        guard batch > 0, seqLen > 0 else { throw LlamaError.invalidInput("batch (\(batch)) and seqLen (\(seqLen)) must be positive") }
        guard tokens.count == n else { throw LlamaError.invalidInput("tokens has \(tokens.count) ids, expected batch*seqLen = \(n)") }
        if let i = tokens.firstIndex(where: { $0 < 0 || Int($0) >= config.vocabSize }) {
            throw LlamaError.invalidInput("token id \(tokens[i]) at index \(i) is outside the vocabulary [0, \(config.vocabSize))")
        }
        if let p = positionIds {
            guard p.count == n else { throw LlamaError.invalidInput("positionIds has \(p.count) entries, expected \(n)") }
            if let i = p.firstIndex(where: { $0 < 0 }) { throw LlamaError.invalidInput("positionIds[\(i)] = \(p[i]) is negative") }
        }
        if let m = attentionMask, m.count != n {
            throw LlamaError.invalidInput("attentionMask has \(m.count) entries, expected \(n)")
        }
    }
}

// MARK: - Output

/// Views of the model's cached activations after a forward.
///
/// Ownership: both tensors are owned by the model and overwritten by its next `forward`; `clone()` them
/// to keep them.
public struct LlamaOutput {
    /// Unnormalised next-token scores `[B*T, V]` (nil when the forward skipped `lm_head`).
    public let logits: Tensor?
    /// Hidden states after the final RMSNorm `[B*T, C]` (what `lm_head`, a value head or a reward head read).
    public let hidden: Tensor
}
