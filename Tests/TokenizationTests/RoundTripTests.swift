import Foundation
import XCTest
@testable import Tokenization

/// Lossless encode/decode on edge cases (empty, one byte, invalid UTF-8, emoji, CJK, a whole file).
final class RoundTripTests: XCTestCase {
    static let tokenizer: BPETokenizer? = try? BPETokenizer(directory: Fixtures.url("ours"))

    private func tok() throws -> BPETokenizer { try XCTUnwrap(Self.tokenizer, "Fixtures/ours must load") }

    func testEmptyInputGivesNoTokens() throws {
        XCTAssertEqual(try tok().encode(""), [])
        XCTAssertEqual(try tok().decode([]), "")
        XCTAssertEqual(try tok().encodeWithPostProcessor(""), [0], "post-processor adds BOS even to empty text")
    }

    func testEverySingleByteRoundTrips() throws {
        let t = try tok()
        for b in 0...255 {
            let ids = t.encode(bytes: [UInt8(b)])
            XCTAssertEqual(ids.count, 1, "byte \(b) is one token")
            XCTAssertEqual(t.decodeBytes(ids), [UInt8(b)], "byte \(b)")
        }
    }

    func testInvalidUTF8RoundTripsExactly() throws {
        let t = try tok()
        let cases: [[UInt8]] = [
            [0xFF], [0xC3], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC0, 0xAF],
            Array("abc".utf8) + [0x80, 0x80] + Array(" d\u{e9}f ".utf8) + [0xF0, 0x9F] + Array("!".utf8),
        ]
        for bytes in cases {
            let ids = t.encode(bytes: bytes)
            XCTAssertEqual(t.decodeBytes(ids), bytes, "\(bytes)")
        }
        // `decode` (String) replaces the invalid byte with U+FFFD.
        XCTAssertEqual(t.decode(t.encode(bytes: [0x61, 0xFF, 0x62])), "a\u{FFFD}b")
    }

    func testRandomBytesRoundTrip() throws {
        let t = try tok()
        var rng = SplitMix64(seed: 7)
        for n in [1, 2, 3, 10, 100, 1000, 5000] {
            let bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            XCTAssertEqual(t.decodeBytes(t.encode(bytes: bytes)), bytes, "random \(n) bytes")
        }
    }

    func testTextRoundTripsAndSpecialTokensOnlyWhenAllowed() throws {
        let t = try tok()
        for text in Fixtures.texts {
            XCTAssertEqual(t.decode(t.encode(text)), text, label(text))
            XCTAssertEqual(t.decode(t.encode(text, allowSpecial: true)), text, label(text))
        }
        let eos = try XCTUnwrap(t.eosTokenId)
        XCTAssertFalse(t.encode("end<|end_of_text|>").contains(eos))
        XCTAssertEqual(t.encode("end<|end_of_text|>", allowSpecial: true).last, eos)
        XCTAssertEqual(t.decode(t.encode("a<|end_of_text|>", allowSpecial: true), skipSpecial: true), "a")
    }

    func testWholeCorpusSliceRoundTripsAndCompresses() throws {
        let t = try tok()
        let bytes = Array(try Fixtures.data("corpus-slice.txt"))
        let ids = t.encode(bytes: bytes)
        XCTAssertEqual(t.decodeBytes(ids), bytes)
        XCTAssertLessThan(Double(ids.count), Double(bytes.count) / 3, "a 1500-token vocabulary should compress English prose >3 bytes/token")
    }

    func testSpecialTokenIdsFollowTheConvention() throws {
        let t = try tok()
        XCTAssertEqual(t.bosTokenId, 0)
        XCTAssertEqual(t.eosTokenId, 1)
        XCTAssertEqual(t.padTokenId, 2)
        XCTAssertNotEqual(t.padTokenId, t.eosTokenId)
        XCTAssertEqual(t.id(forToken: "<|sep|>"), 3)
        XCTAssertEqual(t.token(forId: 3), "<|sep|>")
        XCTAssertEqual(t.id(forToken: "Ġ"), Int32(4 + ByteLevel.bytesInAlphabetOrder.firstIndex(of: 0x20)!), "byte tokens follow the 4 specials")
        XCTAssertEqual(ByteLevel.bytesInAlphabetOrder.firstIndex(of: 0x20), 188 + 32, "U+0120 follows the 188 printable bytes and U+0100..U+011F")
        XCTAssertNil(t.token(forId: -1))
        XCTAssertNil(t.token(forId: Int32(t.vocabSize)))
        XCTAssertEqual(t.tokens.count, t.vocabSize)
        XCTAssertEqual(t.encodeWithPostProcessor("hi"), [0] + t.encode("hi"))
    }

    func testConcurrentEncodingMatchesSerial() throws {
        let t = try tok()
        let texts = Fixtures.texts
        let serial = texts.map { t.encode($0) }
        let results = ConcurrentResults(count: texts.count)
        DispatchQueue.concurrentPerform(iterations: texts.count) { i in results.set(i, t.encode(texts[i])) }
        XCTAssertEqual(results.values, serial)
    }
}

/// Thread-safe result slots for `concurrentPerform`.
final class ConcurrentResults: @unchecked Sendable {
    private var storage: [[Int32]]
    private let lock = NSLock()
    init(count: Int) { storage = Array(repeating: [], count: count) }
    func set(_ i: Int, _ v: [Int32]) { lock.lock(); storage[i] = v; lock.unlock() }
    var values: [[Int32]] { lock.lock(); defer { lock.unlock() }; return storage }
}

/// Deterministic test random numbers.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
