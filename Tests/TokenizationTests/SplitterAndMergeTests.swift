import Foundation
import XCTest
@testable import Tokenization

/// The GPT-2 splitter's worked examples and the heap merge against a naive BPE.
final class SplitterAndMergeTests: XCTestCase {
    private func split(_ s: String) -> [String] {
        let bytes = Array(s.utf8)
        var out: [String] = []
        bytes.withUnsafeBufferPointer { p in gpt2Split(p) { a, b in out.append(String(decoding: p[a..<b], as: UTF8.self)) } }
        return out
    }

    func testSplitterWorkedExamples() {
        XCTAssertEqual(split("Hello world's  end\n"), ["Hello", " world", "'s", " ", " end", "\n"])
        XCTAssertEqual(split("I'm 42 years!!"), ["I", "'m", " 42", " years", "!!"])
        XCTAssertEqual(split("a \n\nb"), ["a", " \n", "\n", "b"])
        XCTAssertEqual(split("x   "), ["x", "   "])
        XCTAssertEqual(split("\"'s"), ["\"'", "s"])
        XCTAssertEqual(split("caf\u{e9} \u{65e5}\u{672c}"), ["caf\u{e9}", " \u{65e5}\u{672c}"])
        XCTAssertEqual(split(""), [])
    }

    func testSplitterPiecesTileAnyBytes() {
        var rng = SplitMix64(seed: 3)
        for n in [1, 5, 50, 500] {
            let bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next() % 7 == 0 ? 0x20 : rng.next()) }
            var next = 0
            bytes.withUnsafeBufferPointer { p in
                gpt2Split(p) { a, b in
                    XCTAssertEqual(a, next)
                    XCTAssertGreaterThan(b, a)
                    next = b
                }
            }
            XCTAssertEqual(next, n)
        }
    }

    /// Naive BPE: repeatedly merge the lowest-ranked adjacent pair, leftmost first.
    private func naiveMerge(_ symbols: [Int32], _ ranks: [String: (Int, Int32)]) -> [Int32] {
        var s = symbols
        while s.count > 1 {
            var best: (rank: Int, pos: Int, id: Int32)?
            for i in 0..<(s.count - 1) {
                if let (r, id) = ranks["\(s[i]) \(s[i + 1])"], best == nil || r < best!.rank { best = (r, i, id) }
            }
            guard let b = best else { break }
            s[b.pos] = b.id
            s.remove(at: b.pos + 1)
        }
        return s
    }

    func testHeapMergeEqualsNaiveBPE() throws {
        let tok = try BPETokenizer(tokenizerJSON: Fixtures.url("hf-trained/tokenizer.json"))
        var ranks: [String: (Int, Int32)] = [:]
        for (r, m) in tok.merges.enumerated() {
            let a = tok.id(forToken: m.0)!, b = tok.id(forToken: m.1)!
            ranks["\(a) \(b)"] = (r, tok.id(forToken: m.0 + m.1)!)
        }
        let words = ["the", " the", " Alice", " wonderland", "aaaaaaa", " said", "eeeeeeeeeeee", "llll", " tttt", "Queen's", " \u{2019}",
                     String(repeating: "ab", count: 40), String(repeating: " the", count: 20)]
        var scratch = MergeScratch()
        for w in words {
            let symbols = w.utf8.map { tok.byteToId[Int($0)] }
            var out: [Int32] = []
            symbols.withUnsafeBufferPointer { applyMerges($0, pairs: tok.pairs, scratch: &scratch, out: &out) }
            XCTAssertEqual(out, naiveMerge(symbols, ranks), w)
        }
    }

    func testMergeWordRecordsPairChanges() {
        var word: [Int32] = [1, 1, 1, 2]
        var changes: [(UInt64, Int)] = []
        BPETokenizer.mergeWord(&word, 1, 1, 9, &changes)
        XCTAssertEqual(word, [9, 1, 2])
        XCTAssertEqual(changes.map { "\($0.0 >> 32),\($0.0 & 0xFFFF_FFFF):\($0.1)" }, ["1,1:-1", "9,1:1"])
    }
}
