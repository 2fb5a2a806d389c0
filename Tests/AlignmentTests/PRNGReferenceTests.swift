import Foundation
import XCTest
import Tensors
import Training

/// The Swift xoshiro256** and window sampler against `scripts/reference/xoshiro.py` (fixture), so a
/// PyTorch benchmark can draw exactly the same training windows.
final class PRNGReferenceTests: XCTestCase {
    func testXoshiroAndWindowOffsetsMatchPython() throws {
        let p = Reference.json.dict("prng")
        let sm = (p["splitmix64_seed0"] as? [String] ?? []).compactMap(UInt64.init)
        var s = SplitMix64(state: 0)
        XCTAssertEqual((0..<4).map { _ in s.next() }, sm)
        var x = Xoshiro256StarStar(seed: UInt64(p.int("seed")))
        let expected = (p["xoshiro_outputs"] as? [String] ?? []).compactMap(UInt64.init)
        XCTAssertEqual(expected.count, 8)
        XCTAssertEqual((0..<8).map { _ in x.next() }, expected)

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("prng-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let count = p.int("window_count")
        let w = try TokenFileWriter(base: dir.appendingPathComponent("t"), vocabSize: 10, tokenizerFingerprint: "x")
        try w.append([Int32](repeating: 1, count: count), id: "d")
        try w.finish()
        var sampler = try RandomWindowSampler(reader: try TokenFileReader(base: dir.appendingPathComponent("t")),
                                              batchSize: p.int("batch_size"), seqLen: p.int("seq_len"), seed: UInt64(p.int("seed")))
        let offsets = (p["window_offsets"] as? [[Int]]) ?? []
        XCTAssertEqual(offsets.count, 3)
        for row in offsets { XCTAssertEqual(sampler.nextOffsets(), row) }
    }
}
