// Applying BPE merges to one pre-token (the encoder's inner loop).

// MARK: - Merge one word

/// Reusable buffers for `applyMerges`, so encoding a text allocates only while buffers grow.
struct MergeScratch {
    var sym: [Int32] = []
    var prev: [Int32] = []
    var next: [Int32] = []
    var alive: [Bool] = []
    var heapKeys: [UInt64] = []   // rank << 32 | pos (min-heap order)
    var heapNew: [Int32] = []     // new token id of each heap entry
}

/// Merges the symbols of one word by merge rank and appends the resulting token ids to `out`.
///
/// The lowest-ranked adjacent pair is merged first; among equal ranks the leftmost pair. This is
/// exactly Hugging Face's `Word::merge_all` (a min-heap over `(rank, position)` with lazy deletion of
/// expired entries), including its handling of two merges producing the same token.
///
/// Example: with merges `[(h, e) -> he, (l, l) -> ll, (he, ll) -> hell]`, the symbols `h e l l o`
/// become `hell o`.
///
/// - Parameters:
///   - symbols: the initial token ids of the word (one per byte), `[n]`; `n >= 1`.
///   - pairs: the merge table.
///   - scratch: reusable buffers.
///   - out: receives the merged token ids.
/// Source: Sennrich et al. 2016 "Neural Machine Translation of Rare Words with Subword Units" (BPE);
/// Hugging Face tokenizers `models/bpe/word.rs` (`merge_all`).
func applyMerges(_ symbols: UnsafeBufferPointer<Int32>, pairs: PairTable, scratch: inout MergeScratch, out: inout [Int32]) {
    let n = symbols.count
    if n == 1 { out.append(symbols[0]); return }
    if n == 2 {
        if let m = pairs.lookup(symbols[0], symbols[1]) {
            out.append(Int32(truncatingIfNeeded: m & 0xFFFF_FFFF))
        } else {
            out.append(symbols[0]); out.append(symbols[1])
        }
        return
    }
    scratch.sym.removeAll(keepingCapacity: true)
    scratch.prev.removeAll(keepingCapacity: true)
    scratch.next.removeAll(keepingCapacity: true)
    scratch.alive.removeAll(keepingCapacity: true)
    scratch.heapKeys.removeAll(keepingCapacity: true)
    scratch.heapNew.removeAll(keepingCapacity: true)
    for i in 0..<n {
        scratch.sym.append(symbols[i])
        scratch.prev.append(Int32(i - 1))
        scratch.next.append(i + 1 < n ? Int32(i + 1) : -1)
        scratch.alive.append(true)
    }
    for i in 0..<(n - 1) {
        if let m = pairs.lookup(symbols[i], symbols[i + 1]) {
            heapPush(&scratch, (m & 0xFFFF_FFFF_0000_0000) | UInt64(i), Int32(truncatingIfNeeded: m & 0xFFFF_FFFF))
        }
    }
    while !scratch.heapKeys.isEmpty {
        let (key, newId) = heapPop(&scratch)
        let pos = Int(key & 0xFFFF_FFFF)
        if !scratch.alive[pos] { continue }
        let nx = Int(scratch.next[pos])
        if nx < 0 { continue }
        // Expired entry: the pair at `pos` is no longer one that yields `newId`.
        guard let m = pairs.lookup(scratch.sym[pos], scratch.sym[nx]), Int32(truncatingIfNeeded: m & 0xFFFF_FFFF) == newId else { continue }
        scratch.sym[pos] = newId
        scratch.alive[nx] = false
        let after = Int(scratch.next[nx])
        scratch.next[pos] = Int32(after)
        if after >= 0 { scratch.prev[after] = Int32(pos) }
        let pv = Int(scratch.prev[pos])
        if pv >= 0, let m2 = pairs.lookup(scratch.sym[pv], newId) {
            heapPush(&scratch, (m2 & 0xFFFF_FFFF_0000_0000) | UInt64(pv), Int32(truncatingIfNeeded: m2 & 0xFFFF_FFFF))
        }
        if after >= 0, let m3 = pairs.lookup(newId, scratch.sym[after]) {
            heapPush(&scratch, (m3 & 0xFFFF_FFFF_0000_0000) | UInt64(pos), Int32(truncatingIfNeeded: m3 & 0xFFFF_FFFF))
        }
    }
    var i = 0
    while i >= 0 {
        out.append(scratch.sym[i])
        i = Int(scratch.next[i])
    }
}

// MARK: - Binary min-heap on (rank, pos)

@inline(__always)
private func heapPush(_ s: inout MergeScratch, _ key: UInt64, _ newId: Int32) {
    s.heapKeys.append(key)
    s.heapNew.append(newId)
    var i = s.heapKeys.count - 1
    while i > 0 {
        let parent = (i - 1) >> 1
        if s.heapKeys[parent] <= key { break }
        s.heapKeys[i] = s.heapKeys[parent]
        s.heapNew[i] = s.heapNew[parent]
        i = parent
    }
    s.heapKeys[i] = key
    s.heapNew[i] = newId
}

@inline(__always)
private func heapPop(_ s: inout MergeScratch) -> (UInt64, Int32) {
    let top = (s.heapKeys[0], s.heapNew[0])
    let lastKey = s.heapKeys.removeLast()
    let lastNew = s.heapNew.removeLast()
    let n = s.heapKeys.count
    if n == 0 { return top }
    var i = 0
    while true {
        let l = 2 * i + 1
        if l >= n { break }
        var c = l
        if l + 1 < n && s.heapKeys[l + 1] < s.heapKeys[l] { c = l + 1 }
        if s.heapKeys[c] >= lastKey { break }
        s.heapKeys[i] = s.heapKeys[c]
        s.heapNew[i] = s.heapNew[c]
        i = c
    }
    s.heapKeys[i] = lastKey
    s.heapNew[i] = lastNew
    return top
}
