// The key/value cache of incremental decoding and the workspace of a cached forward.
//
// Legend: B batch, Tmax cache capacity (tokens per row), N = B*Tq rows of one cached forward,
// C hidden_size, F intermediate_size, V vocab_size, H heads, G kv heads, D head_dim.

import Tensors

// MARK: - LlamaKVCache

/// Keys (after RoPE) and values of every layer for B sequences, plus which slots hold real tokens.
///
/// Layout: per layer, `keys[l]` and `values[l]` are `[B, Tmax, G*D]` (a row's slots contiguous, one
/// slot = the `k_proj`/`v_proj` output of one token), so appending a token is one copy and attention
/// reads head g of slot j at `(b*Tmax + j)*G*D + g*D`. Every row has the same number of filled slots
/// (`length`); left padding and finished rows are handled by `mask`, not by ragged lengths.
///
/// Ownership and threading: one cache belongs to one generation (one model, one thread). It also owns the
/// workspace buffers of `LlamaModel.forward(appending:...)`, allocated once at creation for
/// `maxQueryLength` tokens per row, so decoding steps allocate nothing.
public final class LlamaKVCache {
    /// B: sequences.
    public let batch: Int
    /// Tmax: slots per sequence (prompt + new tokens).
    public let capacity: Int
    /// Largest number of tokens per row one `forward(appending:)` call may append (the prompt length).
    public let maxQueryLength: Int
    /// Slots filled so far in every row, in tokens.
    public private(set) var length = 0
    /// Per layer `[B, Tmax, G*D]`: keys after RoPE.
    public let keys: [Tensor]
    /// Per layer `[B, Tmax, G*D]`: values.
    public let values: [Tensor]
    /// `[B, Tmax]`: 1 where the slot holds a real token, 0 for padding (never attended to).
    public private(set) var mask: [UInt8]
    /// Per row, the real tokens seen so far = the position id of the row's next real token.
    public private(set) var realTokens: [Int32]

    let config: LlamaConfig
    let work: CachedForwardWorkspace

    /// Allocates an empty cache (and the forward workspace) for `batch` rows of up to `capacity` tokens.
    /// - Parameters:
    ///   - config: the model's config (sizes of K/V).
    ///   - batch: B >= 1.
    ///   - capacity: Tmax >= 1, in tokens (prompt + new tokens).
    ///   - maxQueryLength: the most tokens per row a single forward will append (default `capacity`).
    public init(config: LlamaConfig, batch: Int, capacity: Int, maxQueryLength: Int? = nil) {
        precondition(batch > 0 && capacity > 0, "LlamaKVCache: batch and capacity must be positive")
        self.batch = batch
        self.capacity = capacity
        self.maxQueryLength = min(maxQueryLength ?? capacity, capacity)
        self.config = config
        let kvd = config.numKeyValueHeads * config.headDim
        keys = (0..<config.numHiddenLayers).map { _ in Tensor(shape: [batch, capacity, kvd]) }
        values = (0..<config.numHiddenLayers).map { _ in Tensor(shape: [batch, capacity, kvd]) }
        mask = [UInt8](repeating: 0, count: batch * capacity)
        realTokens = [Int32](repeating: 0, count: batch)
        work = CachedForwardWorkspace(config: config, batch: batch, maxQueryLength: self.maxQueryLength, capacity: capacity)
    }

    /// Empties the cache (side effect: `length` 0, masks and position counters cleared; buffers kept).
    public func reset() {
        length = 0
        for i in mask.indices { mask[i] = 0 }
        for i in realTokens.indices { realTokens[i] = 0 }
    }

    /// Records `tq` appended slots per row and returns their position ids `[B*Tq]` (real tokens get the
    /// row's next position, padding gets 0). Called by the cached forward before it writes K/V.
    func append(queryLength tq: Int, attentionMask: UnsafePointer<UInt8>?, positions: UnsafeMutablePointer<Int32>) {
        for b in 0..<batch {
            for i in 0..<tq {
                let real = attentionMask.map { $0[b * tq + i] != 0 } ?? true
                mask[b * capacity + length + i] = real ? 1 : 0
                if real {
                    positions[b * tq + i] = realTokens[b]
                    realTokens[b] += 1
                } else {
                    positions[b * tq + i] = 0
                }
            }
        }
        length += tq
    }
}

// MARK: - Workspace

/// Buffers of one cached forward, sized for `B * maxQueryLength` rows (decoding steps use the first B).
final class CachedForwardWorkspace {
    let x: Tensor, ln: Tensor, scratch: Tensor   // [N, C]
    let rstd: Tensor                             // [N]
    let q: Tensor, attn: Tensor                  // [N, H*D]
    let k: Tensor, v: Tensor                     // [N, G*D]
    let gate: Tensor, up: Tensor                 // [N, F]
    let cos: Tensor, sin: Tensor                 // [N, D/2]
    let ropeCos: Tensor, ropeSin: Tensor         // [Tmax, D/2] tables of positions 0..<Tmax
    let decodeScores: Tensor                     // [B*H, Tmax] one row per (row, head) of a decoding step
    let scores: Tensor                           // [Tq, Tmax] one (batch, head) at a time
    let lastHidden: Tensor                       // [B, C] final-norm rows whose logits are wanted
    let lastRstd: Tensor                         // [B]
    let lastLogits: Tensor                       // [B, V]
    var allLogits: Tensor?                       // [N, V], allocated on first request
    var positions: [Int32]                       // [N]

    init(config cfg: LlamaConfig, batch: Int, maxQueryLength: Int, capacity: Int) {
        let n = batch * maxQueryLength, c = cfg.hiddenSize, f = cfg.intermediateSize
        let qd = cfg.numAttentionHeads * cfg.headDim, kvd = cfg.numKeyValueHeads * cfg.headDim
        x = Tensor(shape: [n, c]); ln = Tensor(shape: [n, c]); scratch = Tensor(shape: [n, c])
        rstd = Tensor(shape: [n])
        q = Tensor(shape: [n, qd]); attn = Tensor(shape: [n, qd])
        k = Tensor(shape: [n, kvd]); v = Tensor(shape: [n, kvd])
        gate = Tensor(shape: [n, f]); up = Tensor(shape: [n, f])
        cos = Tensor(shape: [n, cfg.headDim / 2]); sin = Tensor(shape: [n, cfg.headDim / 2])
        // A row's position ids count its real tokens, so they stay below the capacity.
        let tableCos = Tensor(shape: [capacity, cfg.headDim / 2]), tableSin = Tensor(shape: [capacity, cfg.headDim / 2])
        let allPositions = (0..<capacity).map { Int32($0) }
        allPositions.withUnsafeBufferPointer {
            ropeTables(cos: tableCos.data, sin: tableSin.data, positions: $0.baseAddress!, rows: capacity,
                       headDim: cfg.headDim, theta: cfg.ropeTheta)
        }
        ropeCos = tableCos; ropeSin = tableSin
        decodeScores = Tensor(shape: [batch * cfg.numAttentionHeads, capacity])
        scores = Tensor(shape: [maxQueryLength, capacity])
        lastHidden = Tensor(shape: [batch, c]); lastRstd = Tensor(shape: [batch])
        lastLogits = Tensor(shape: [batch, cfg.vocabSize])
        positions = [Int32](repeating: 0, count: n)
    }
}
