// Open-addressing hash tables for the hot paths (no per-lookup allocation).

// MARK: - Byte-slice table

/// Maps byte strings to dense entry indices 0, 1, 2... (insertion order); keys live in one arena.
struct ByteSliceTable {
    private(set) var slots: [Int32]          // entry index or -1
    private(set) var hashes: [UInt64] = []   // per entry
    private(set) var keyStarts: [Int32] = [0]  // entry e's key is arena[keyStarts[e]..<keyStarts[e+1]]
    private(set) var arena: [UInt8] = []
    private var mask: Int

    init(capacity: Int = 1024) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
    }

    var count: Int { hashes.count }

    @inline(__always)
    static func hash(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> UInt64 {
        // FNV-1a, then a final avalanche so low bits are well mixed.
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        var i = start
        while i < end { h = (h ^ UInt64(p[i])) &* 0x0000_0100_0000_01B3; i += 1 }
        h ^= h >> 33; h = h &* 0xff51_afd7_ed55_8ccd; h ^= h >> 33
        return h
    }

    /// Entry index of `p[start..<end]`, or -1.
    @inline(__always)
    func find(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, hash h: UInt64) -> Int32 {
        var s = Int(truncatingIfNeeded: h) & mask
        let len = end - start
        return slots.withUnsafeBufferPointer { sl in
            arena.withUnsafeBufferPointer { ar in
                keyStarts.withUnsafeBufferPointer { ks in
                    hashes.withUnsafeBufferPointer { hs in
                        while true {
                            let e = sl[s]
                            if e < 0 { return -1 }
                            let ei = Int(e)
                            if hs[ei] == h {
                                let ks0 = Int(ks[ei]), ks1 = Int(ks[ei + 1])
                                if ks1 - ks0 == len {
                                    var k = 0
                                    while k < len && ar[ks0 + k] == p[start + k] { k += 1 }
                                    if k == len { return e }
                                }
                            }
                            s = (s + 1) & mask
                        }
                    }
                }
            }
        }
    }

    /// Inserts a key known to be absent; returns its entry index.
    @discardableResult
    mutating func insertNew(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, hash h: UInt64) -> Int32 {
        if (count + 1) * 2 > slots.count { grow() }
        let e = Int32(count)
        hashes.append(h)
        arena.append(contentsOf: UnsafeBufferPointer(rebasing: p[start..<end]))
        keyStarts.append(Int32(arena.count))
        place(e, h)
        return e
    }

    /// Entry index of the key, inserting it if absent.
    mutating func findOrInsert(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> (entry: Int32, inserted: Bool) {
        let h = Self.hash(p, start, end)
        let e = find(p, start, end, hash: h)
        if e >= 0 { return (e, false) }
        return (insertNew(p, start, end, hash: h), true)
    }

    func key(_ e: Int) -> ArraySlice<UInt8> { arena[Int(keyStarts[e])..<Int(keyStarts[e + 1])] }

    private mutating func place(_ e: Int32, _ h: UInt64) {
        var s = Int(truncatingIfNeeded: h) & mask
        while slots[s] >= 0 { s = (s + 1) & mask }
        slots[s] = e
    }

    private mutating func grow() {
        let size = slots.count * 2
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
        for e in 0..<count { place(Int32(e), hashes[e]) }
    }
}

// MARK: - Pair table

/// Maps a token pair `(a, b)` to its merge `(rank, newId)`; read-only after construction.
struct PairTable: Sendable {
    private var keys: [UInt64]     // (a << 32 | b) + 1; 0 = empty
    private var values: [UInt64]   // rank << 32 | newId
    private let mask: Int

    init(merges: [(a: Int32, b: Int32, newId: Int32)]) {
        var size = 16
        while size < merges.count * 2 { size <<= 1 }
        keys = [UInt64](repeating: 0, count: size)
        values = [UInt64](repeating: 0, count: size)
        mask = size - 1
        for (rank, m) in merges.enumerated() {
            let k = Self.key(m.a, m.b)
            var s = Self.slot(k, mask)
            while keys[s] != 0 && keys[s] != k { s = (s + 1) & mask }
            // A repeated pair keeps its last rank, as Hugging Face's `collect()` into a map does.
            keys[s] = k
            values[s] = UInt64(UInt32(rank)) << 32 | UInt64(UInt32(bitPattern: m.newId))
        }
    }

    @inline(__always) static func key(_ a: Int32, _ b: Int32) -> UInt64 {
        (UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))) &+ 1
    }

    @inline(__always) static func slot(_ k: UInt64, _ mask: Int) -> Int {
        var h = k &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 29
        return Int(truncatingIfNeeded: h) & mask
    }

    /// `(rank, newId)` packed as `rank << 32 | newId`, or `nil` when `(a, b)` is not a merge.
    @inline(__always)
    func lookup(_ a: Int32, _ b: Int32) -> UInt64? {
        let k = Self.key(a, b)
        var s = Self.slot(k, mask)
        return keys.withUnsafeBufferPointer { ks in
            while true {
                let x = ks[s]
                if x == k { return values[s] }
                if x == 0 { return nil }
                s = (s + 1) & mask
            }
        }
    }
}
