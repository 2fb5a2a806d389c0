// Training batches (random windows from a seeded generator) and evaluation windows (sequential).
import Foundation
import Tensors

// MARK: - Batch

/// One batch of next-token prediction: `targets[b*T + t] == inputs[b*T + t + 1]` inside a window.
public struct TokenBatch: Equatable, Sendable {
    /// Rows in this batch (B); the last evaluation batch may be smaller than the configured size.
    public var batchSize: Int
    /// Tokens per row (T).
    public var seqLen: Int
    /// Input ids `[B*T]`, row-major.
    public var inputs: [Int32]
    /// Target ids `[B*T]`: each input's next token.
    public var targets: [Int32]
    /// Start of each row's window in the token file `[B]` (tokens).
    public var offsets: [Int]
}

// MARK: - Random windows

/// The serialisable part of a `RandomWindowSampler`: saved in the trainer state for exact resume.
public struct BatchSamplerState: Codable, Equatable, Sendable {
    /// The generator, positioned after the last batch drawn.
    public var rng: Xoshiro256
    /// Batches drawn so far.
    public var batchesDrawn: Int

    enum CodingKeys: String, CodingKey {
        case rng
        case batchesDrawn = "batches_drawn"
    }

    /// The state of a fresh sampler seeded with `seed`.
    public init(seed: UInt64) {
        rng = Xoshiro256(seed: seed)
        batchesDrawn = 0
    }
}

/// Draws batches of `B` random windows of `T + 1` tokens from a token file (nanoGPT's `get_batch`):
/// each row's start is `rng.nextInt(below: count - T)`, drawn in row order, so every window lies
/// inside the file. Windows may cross document boundaries (documents are separated by the
/// file's separator token, if any).
public struct RandomWindowSampler: Sendable {
    /// The token file read.
    public let reader: TokenFileReader
    /// Rows per batch (B).
    public let batchSize: Int
    /// Tokens per row (T).
    public let seqLen: Int
    /// Generator and batch count; save it with a checkpoint and pass it back to resume.
    public private(set) var state: BatchSamplerState

    /// Creates a sampler at `state` (a fresh one: `BatchSamplerState(seed:)`).
    /// - Parameters:
    ///   - reader: the training token file.
    ///   - batchSize: rows per batch (B), > 0.
    ///   - seqLen: tokens per row (T), > 0.
    ///   - state: where to start.
    /// - Throws: `TrainingError.invalidConfiguration` for B or T < 1; `TrainingError.corpusTooShort`
    ///   when the file holds fewer than `T + 1` tokens.
    public init(reader: TokenFileReader, batchSize: Int, seqLen: Int, state: BatchSamplerState) throws {
        guard batchSize > 0 else { throw TrainingError.invalidConfiguration(field: "batch_size", reason: "must be >= 1, got \(batchSize)") }
        guard seqLen > 0 else { throw TrainingError.invalidConfiguration(field: "seq_len", reason: "must be >= 1, got \(seqLen)") }
        guard reader.count >= seqLen + 1 else {
            throw TrainingError.corpusTooShort(tokens: reader.count, windowTokens: seqLen + 1, path: reader.paths.data.path)
        }
        self.reader = reader
        self.batchSize = batchSize
        self.seqLen = seqLen
        self.state = state
    }

    /// Convenience: a fresh sampler seeded with `seed`.
    /// - Throws: as `init(reader:batchSize:seqLen:state:)`.
    public init(reader: TokenFileReader, batchSize: Int, seqLen: Int, seed: UInt64) throws {
        try self.init(reader: reader, batchSize: batchSize, seqLen: seqLen, state: BatchSamplerState(seed: seed))
    }

    /// Draws the next `B` window starts (tokens) and advances the state by one batch.
    public mutating func nextOffsets() -> [Int] {
        let choices = UInt64(reader.count - seqLen)
        var offsets = [Int](repeating: 0, count: batchSize)
        for b in 0..<batchSize { offsets[b] = Int(state.rng.nextInt(below: choices)) }
        state.batchesDrawn += 1
        return offsets
    }

    /// Draws the next batch: inputs and targets `[B*T]`; advances the state by one batch.
    public mutating func nextBatch() -> TokenBatch {
        let offsets = nextOffsets()
        return makeBatch(reader: reader, offsets: offsets, seqLen: seqLen)
    }
}

/// Reads windows of `T + 1` ids at `offsets` into a batch.
func makeBatch(reader: TokenFileReader, offsets: [Int], seqLen T: Int) -> TokenBatch {
    let B = offsets.count
    var window = [Int32](repeating: 0, count: T + 1)
    var inputs = [Int32](repeating: 0, count: B * T)
    var targets = [Int32](repeating: 0, count: B * T)
    for (b, start) in offsets.enumerated() {
        reader.copy(start: start, count: T + 1, into: &window, at: 0)
        for t in 0..<T {
            inputs[b * T + t] = window[t]
            targets[b * T + t] = window[t + 1]
        }
    }
    return TokenBatch(batchSize: B, seqLen: T, inputs: inputs, targets: targets, offsets: offsets)
}

// MARK: - Evaluation windows

/// Sequential, non-overlapping evaluation windows over a (validation) token file: window `k`
/// starts at `k * T` and holds `T + 1` tokens, so every next-token prediction of tokens
/// `1...(W * T)` is scored exactly once, where `W = (count - 1) / T` (the last `(count - 1) % T`
/// predictions are dropped). Batches hold up to `B` windows; the last may hold fewer.
public struct EvaluationWindows: Sequence, Sendable {
    /// The token file read.
    public let reader: TokenFileReader
    /// Maximum rows per batch (B).
    public let batchSize: Int
    /// Tokens per row (T).
    public let seqLen: Int
    /// Number of windows visited (W, possibly capped by `maxWindows`).
    public let windowCount: Int

    /// - Parameters:
    ///   - reader: the validation token file.
    ///   - batchSize: maximum rows per batch (B), > 0.
    ///   - seqLen: tokens per row (T), > 0.
    ///   - maxWindows: visit only the first windows (a cheaper, still deterministic evaluation), or nil for all.
    /// - Throws: `TrainingError.invalidConfiguration` for B or T < 1; `TrainingError.corpusTooShort`
    ///   when the file holds fewer than `T + 1` tokens.
    public init(reader: TokenFileReader, batchSize: Int, seqLen: Int, maxWindows: Int? = nil) throws {
        guard batchSize > 0 else { throw TrainingError.invalidConfiguration(field: "batch_size", reason: "must be >= 1, got \(batchSize)") }
        guard seqLen > 0 else { throw TrainingError.invalidConfiguration(field: "seq_len", reason: "must be >= 1, got \(seqLen)") }
        guard reader.count >= seqLen + 1 else {
            throw TrainingError.corpusTooShort(tokens: reader.count, windowTokens: seqLen + 1, path: reader.paths.data.path)
        }
        self.reader = reader
        self.batchSize = batchSize
        self.seqLen = seqLen
        let all = (reader.count - 1) / seqLen
        windowCount = maxWindows.map { Swift.min(all, Swift.max(0, $0)) } ?? all
    }

    /// Number of batches (`ceil(W / B)`).
    public var batchCount: Int { (windowCount + batchSize - 1) / batchSize }

    /// Number of predictions scored over the whole pass (`W * T` tokens).
    public var predictionCount: Int { windowCount * seqLen }

    public func makeIterator() -> Iterator { Iterator(windows: self) }

    /// Yields `TokenBatch`es in file order.
    public struct Iterator: IteratorProtocol {
        let windows: EvaluationWindows
        var position = 0

        public mutating func next() -> TokenBatch? {
            guard position < windows.windowCount else { return nil }
            let n = Swift.min(windows.batchSize, windows.windowCount - position)
            let offsets = (position..<(position + n)).map { $0 * windows.seqLen }
            position += n
            return makeBatch(reader: windows.reader, offsets: offsets, seqLen: windows.seqLen)
        }
    }
}
