import Foundation
import Logging

// MARK: - Word counting

/// Unique pre-tokens of a corpus and how often each occurs.
struct WordCounts {
    var table = ByteSliceTable(capacity: 1 << 16)
    var counts: [Int] = []
    var totalBytes = 0

    /// Splits `bytes` with the GPT-2 pattern and counts every piece.
    mutating func add(_ bytes: UnsafeBufferPointer<UInt8>) {
        totalBytes += bytes.count
        gpt2Split(bytes) { s, e in
            let (entry, inserted) = table.findOrInsert(bytes, s, e)
            if inserted { counts.append(1) } else { counts[Int(entry)] += 1 }
        }
    }
}

/// Progress of `BPETokenizer.train`: merges learned so far out of the number wanted.
public struct TrainingProgress: Sendable {
    public var merges: Int
    public var targetMerges: Int
}

// MARK: - Training

extension BPETokenizer {
    /// Trains a byte-level BPE tokenizer on texts (each text is pre-tokenized as one document).
    ///
    /// Ids: the special tokens first (bos 0, eos 1, pad 2, extras), then the 256 byte tokens in the
    /// order of their characters' code points, then one token per merge. This is the layout and the
    /// merge order of Hugging Face's `BpeTrainer` with the same special tokens and
    /// `initial_alphabet=ByteLevel.alphabet()`: at each step the most frequent pair is merged, ties
    /// going to the pair with the smaller ids. Training stops early when no pair is left.
    ///
    /// - Parameters:
    ///   - texts: the corpus documents.
    ///   - vocabSize: wanted vocabulary size (tokens), specials included; at least `256 + specials`.
    ///   - specialTokens: the special tokens (Llama 3 names by default).
    ///   - logger: receives a summary (`info`) and early stop (`warning`).
    ///   - progress: called every 256 merges and at the end.
    /// - Returns: the tokenizer, with a post-processor that prepends BOS.
    /// - Throws: `TokenizerError.emptyCorpus`, `.vocabSizeTooSmall`, `.invalidSpecialToken`.
    /// Source: Sennrich et al. 2016, section 3.2 (BPE); Hugging Face tokenizers `models/bpe/trainer.rs`.
    public static func train(texts: [String], vocabSize: Int, specialTokens: SpecialTokens = .init(), logger: Logger?,
                             progress: ((TrainingProgress) -> Void)? = nil) throws -> BPETokenizer {
        var wc = WordCounts()
        for var t in texts { t.withUTF8 { wc.add($0) } }
        return try train(wordCounts: wc, vocabSize: vocabSize, specialTokens: specialTokens, logger: logger, progress: progress,
                         source: "\(texts.count) texts")
    }

    /// Trains on text files, each read as one document (bytes need not be valid UTF-8).
    /// - Parameters: as `train(texts:...)`; `files` are the corpus files.
    /// - Throws: `TokenizerError.corpusUnreadable` for a missing file, `.emptyCorpus` when all files are
    ///   empty, and as `train(texts:...)`.
    public static func train(files: [URL], vocabSize: Int, specialTokens: SpecialTokens = .init(), logger: Logger?,
                             progress: ((TrainingProgress) -> Void)? = nil) throws -> BPETokenizer {
        guard !files.isEmpty else { throw TokenizerError.emptyCorpus(detail: "no corpus file given") }
        try validate(vocabSize: vocabSize, specialTokens: specialTokens)
        var wc = WordCounts()
        for url in files {
            let data: Data
            do { data = try Data(contentsOf: url) } catch {
                throw TokenizerError.corpusUnreadable(path: url.path, reason: FileManager.default.fileExists(atPath: url.path) ? error.localizedDescription : "no such file")
            }
            data.withUnsafeBytes { raw in wc.add(raw.bindMemory(to: UInt8.self)) }
        }
        return try train(wordCounts: wc, vocabSize: vocabSize, specialTokens: specialTokens, logger: logger, progress: progress,
                         source: files.map(\.path).joined(separator: ", "))
    }

    static func validate(vocabSize: Int, specialTokens: SpecialTokens) throws {
        try specialTokens.validate()
        let minimum = 256 + specialTokens.all.count
        if vocabSize < minimum { throw TokenizerError.vocabSizeTooSmall(requested: vocabSize, minimum: minimum) }
    }

    static func train(wordCounts wc: WordCounts, vocabSize: Int, specialTokens: SpecialTokens, logger: Logger?,
                      progress: ((TrainingProgress) -> Void)?, source: String) throws -> BPETokenizer {
        try validate(vocabSize: vocabSize, specialTokens: specialTokens)
        guard wc.totalBytes > 0 else { throw TokenizerError.emptyCorpus(detail: source) }
        let start = Date()
        let result = learnMerges(wc, vocabSize: vocabSize, specials: specialTokens.all, progress: progress)
        let tokenizer = try BPETokenizer(parts: result, path: "(trained)", specialTokens: specialTokens)
        let got = tokenizer.vocabSize
        if got < vocabSize {
            logger?.warning("bpe training stopped early: no pair left to merge",
                            metadata: ["vocab_size": "\(got)", "requested": "\(vocabSize)"])
        }
        logger?.info("bpe training done", metadata: [
            "vocab_size": "\(got)", "merges": "\(result.merges.count)", "unique_words": "\(wc.counts.count)",
            "corpus_bytes": "\(wc.totalBytes)", "seconds": "\(String(format: "%.2f", Date().timeIntervalSince(start)))",
        ])
        return tokenizer
    }

    private convenience init(parts: TokenizerParts, path: String, specialTokens: SpecialTokens) throws {
        var parts = parts
        parts.bosToken = specialTokens.bos
        parts.eosToken = specialTokens.eos
        parts.padToken = specialTokens.pad
        parts.postProcessor = .template(.prependBOS(specialTokens.bos, id: 0))
        try self.init(parts: parts, path: path)
    }

    /// Learns merges from word counts, mirroring Hugging Face `BpeTrainer::do_train` step for step:
    /// a max-heap of pairs by (count, smaller pair first) with lazily refreshed counts.
    static func learnMerges(_ wc: WordCounts, vocabSize: Int, specials: [String],
                            progress: ((TrainingProgress) -> Void)?) -> TokenizerParts {
        // 1. Special tokens, then the byte alphabet sorted by code point.
        var idOf: [String: Int32] = [:]
        var tokenBytes: [[UInt8]] = []   // by id; specials: UTF-8 of their content (never merged)
        var strings: [String] = []
        for s in specials where idOf[s] == nil {
            idOf[s] = Int32(strings.count); strings.append(s); tokenBytes.append(Array(s.utf8))
        }
        var byteId = [Int32](repeating: 0, count: 256)
        for b in ByteLevel.bytesInAlphabetOrder {
            let s = ByteLevel.tokenString([b])
            if let existing = idOf[s] { byteId[Int(b)] = existing; continue }
            byteId[Int(b)] = Int32(strings.count)
            idOf[s] = Int32(strings.count); strings.append(s); tokenBytes.append([b])
        }

        // 2. Words as symbol ids.
        let nWords = wc.counts.count
        var words: [[Int32]] = []
        words.reserveCapacity(nWords)
        for e in 0..<nWords { words.append(wc.table.key(e).map { byteId[Int($0)] }) }
        let counts = wc.counts

        // 3. Pair counts and where each pair occurs.
        @inline(__always) func key(_ a: Int32, _ b: Int32) -> UInt64 { UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b)) }
        var pairCounts: [UInt64: Int] = [:]
        var whereToUpdate: [UInt64: [Int32]] = [:]
        for (w, word) in words.enumerated() where word.count > 1 {
            for i in 0..<(word.count - 1) {
                let k = key(word[i], word[i + 1])
                pairCounts[k, default: 0] += counts[w]
                whereToUpdate[k, default: []].appendUnique(Int32(w))
            }
        }
        var heap = PairHeap()
        for (k, pos) in whereToUpdate {
            let c = pairCounts[k]!
            if c > 0 { heap.push(count: c, pair: k, pos: pos) }
        }
        whereToUpdate.removeAll(keepingCapacity: true)

        // 4. Merge until the vocabulary is full or no pair is left.
        var merges: [(Int32, Int32)] = []
        var mergeStrings: [(String, String)] = []
        let target = max(0, vocabSize - strings.count)
        var changes: [(UInt64, Int)] = []
        while strings.count < vocabSize {
            guard var top = heap.pop() else { break }
            let current = pairCounts[top.pair] ?? 0
            if top.count != current {
                // Stale entry: re-queue with its up-to-date count.
                top.count = current
                heap.push(top)
                continue
            }
            if top.count < 1 { break }
            let a = Int32(truncatingIfNeeded: top.pair >> 32), b = Int32(truncatingIfNeeded: top.pair & 0xFFFF_FFFF)
            let newString = strings[Int(a)] + strings[Int(b)]
            let newId: Int32
            if let existing = idOf[newString] {
                newId = existing
            } else {
                newId = Int32(strings.count)
                idOf[newString] = newId
                strings.append(newString)
                tokenBytes.append(tokenBytes[Int(a)] + tokenBytes[Int(b)])
            }
            merges.append((a, b))
            mergeStrings.append((strings[Int(a)], strings[Int(b)]))

            // Merge the pair in every word that holds it; collect pair count changes.
            for w in heap.positions(of: top) {
                changes.removeAll(keepingCapacity: true)
                mergeWord(&words[Int(w)], a, b, newId, &changes)
                let c = counts[Int(w)]
                for (k, delta) in changes {
                    pairCounts[k, default: 0] += delta * c
                    if delta > 0 { whereToUpdate[k, default: []].appendUnique(w) }
                }
            }
            for (k, pos) in whereToUpdate {
                let c = pairCounts[k]!
                if c > 0 { heap.push(count: c, pair: k, pos: pos) }
            }
            whereToUpdate.removeAll(keepingCapacity: true)
            if let progress, merges.count % 256 == 0 { progress(TrainingProgress(merges: merges.count, targetMerges: target)) }
        }
        progress?(TrainingProgress(merges: merges.count, targetMerges: target))

        var vocab = [String: Int32](minimumCapacity: strings.count)
        for (i, s) in strings.enumerated() { vocab[s] = Int32(i) }
        let added = specials.enumerated().map { AddedToken(id: Int32($0.offset), content: $0.element, special: true) }
        return TokenizerParts(vocab: vocab, merges: mergeStrings, addedTokens: added)
    }

    /// Replaces each non-overlapping `(a, b)`, left to right, by `newId` in `word` and records the
    /// pair count changes (Hugging Face `Word::merge`).
    ///
    /// Example: merging `(a, a) -> X` in `a a a b` gives `X a b`, with changes `(a,a) -1, (X,a) +1`.
    static func mergeWord(_ word: inout [Int32], _ a: Int32, _ b: Int32, _ newId: Int32, _ changes: inout [(UInt64, Int)]) {
        @inline(__always) func key(_ x: Int32, _ y: Int32) -> UInt64 { UInt64(UInt32(bitPattern: x)) << 32 | UInt64(UInt32(bitPattern: y)) }
        var i = 0
        while i < word.count {
            if word[i] == a && i + 1 < word.count && word[i + 1] == b {
                if i > 0 {
                    changes.append((key(word[i - 1], a), -1))
                    changes.append((key(word[i - 1], newId), 1))
                }
                word[i] = newId
                word.remove(at: i + 1)
                if i < word.count - 1 {
                    changes.append((key(b, word[i + 1]), -1))
                    changes.append((key(newId, word[i + 1]), 1))
                }
            }
            i += 1
        }
    }
}

// MARK: - Helpers

extension Array where Element == Int32 {
    /// Appends `x` unless it is already the last element (positions arrive grouped by word).
    @inline(__always) mutating func appendUnique(_ x: Int32) {
        if last != x { append(x) }
    }
}

/// Max-heap of candidate merges ordered by count, then by the smaller pair (Hugging Face's `Merge` order).
struct PairHeap {
    struct Entry {
        var count: Int
        var pair: UInt64
        var posIndex: Int
    }
    private var entries: [Entry] = []
    private var posPool: [[Int32]] = []
    private var stamp: [Int32: Int] = [:]

    @inline(__always) private static func before(_ x: Entry, _ y: Entry) -> Bool {
        x.count != y.count ? x.count > y.count : x.pair < y.pair
    }

    mutating func push(count: Int, pair: UInt64, pos: [Int32]) {
        posPool.append(pos)
        push(Entry(count: count, pair: pair, posIndex: posPool.count - 1))
    }

    mutating func push(_ e: Entry) {
        entries.append(e)
        var i = entries.count - 1
        while i > 0 {
            let p = (i - 1) >> 1
            if !Self.before(e, entries[p]) { break }
            entries[i] = entries[p]
            i = p
        }
        entries[i] = e
    }

    mutating func pop() -> Entry? {
        guard let top = entries.first else { return nil }
        let last = entries.removeLast()
        let n = entries.count
        if n > 0 {
            var i = 0
            while true {
                let l = 2 * i + 1
                if l >= n { break }
                var c = l
                if l + 1 < n && Self.before(entries[l + 1], entries[l]) { c = l + 1 }
                if !Self.before(entries[c], last) { break }
                entries[i] = entries[c]
                i = c
            }
            entries[i] = last
        }
        return top
    }

    /// The distinct words of an entry (its position list may repeat a word).
    func positions(of e: Entry) -> [Int32] {
        let list = posPool[e.posIndex]
        if list.count < 2 { return list }
        var seen = Set<Int32>(minimumCapacity: list.count)
        return list.filter { seen.insert($0).inserted }
    }
}
