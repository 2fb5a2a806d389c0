import Foundation
import Tensors
import XCTest
@testable import Training

final class BatchSamplerTests: XCTestCase {
    /// A token file whose id at position i is i % 1000 (so a window's content reveals its offset).
    func makeCorpus(_ dir: TestDirectory, count: Int) throws -> TokenFileReader {
        let w = try TokenFileWriter(base: dir.path("train"), vocabSize: 1000, tokenizerFingerprint: "x")
        try w.append((0..<count).map { Int32($0 % 1000) }, id: "doc")
        try w.finish()
        return try TokenFileReader(base: dir.path("train"))
    }

    func testWindowsAreShiftedPairsInsideTheFile() throws {
        let dir = TestDirectory()
        let r = try makeCorpus(dir, count: 500)
        var s = try RandomWindowSampler(reader: r, batchSize: 4, seqLen: 16, seed: 3)
        for _ in 0..<20 {
            let b = s.nextBatch()
            XCTAssertEqual(b.inputs.count, 64); XCTAssertEqual(b.targets.count, 64)
            for (row, off) in b.offsets.enumerated() {
                XCTAssertTrue(off >= 0 && off + 17 <= 500)
                for t in 0..<16 {
                    XCTAssertEqual(b.inputs[row * 16 + t], Int32(off + t))
                    XCTAssertEqual(b.targets[row * 16 + t], Int32(off + t + 1))
                }
            }
        }
        XCTAssertEqual(s.state.batchesDrawn, 20)
    }

    func testResumeFromSavedStateContinuesTheSameSequence() throws {
        let dir = TestDirectory()
        let r = try makeCorpus(dir, count: 5000)
        var straight = try RandomWindowSampler(reader: r, batchSize: 3, seqLen: 8, seed: 42)
        let all = (0..<10).map { _ in straight.nextBatch() }
        var first = try RandomWindowSampler(reader: r, batchSize: 3, seqLen: 8, seed: 42)
        for _ in 0..<5 { _ = first.nextBatch() }
        let saved = try JSONEncoder().encode(first.state)
        let state = try JSONDecoder().decode(BatchSamplerState.self, from: saved)
        XCTAssertEqual(state.batchesDrawn, 5)
        var resumed = try RandomWindowSampler(reader: r, batchSize: 3, seqLen: 8, state: state)
        XCTAssertEqual((0..<5).map { _ in resumed.nextBatch() }, Array(all[5...]))
    }

    func testCorpusShorterThanOneWindow() throws {
        let dir = TestDirectory()
        let r = try makeCorpus(dir, count: 16)
        XCTAssertThrowsError(try RandomWindowSampler(reader: r, batchSize: 1, seqLen: 16, seed: 1)) { e in
            guard case let .corpusTooShort(tokens, window, _)? = e as? TrainingError else { return XCTFail("\(e)") }
            XCTAssertEqual(tokens, 16); XCTAssertEqual(window, 17)
        }
        XCTAssertNoThrow(try RandomWindowSampler(reader: r, batchSize: 1, seqLen: 15, seed: 1))
        XCTAssertThrowsError(try EvaluationWindows(reader: r, batchSize: 2, seqLen: 16))
        XCTAssertThrowsError(try RandomWindowSampler(reader: r, batchSize: 0, seqLen: 4, seed: 1))
    }

    func testEvaluationWindowsScoreEveryPredictionOnce() throws {
        let dir = TestDirectory()
        let r = try makeCorpus(dir, count: 35)  // (35 - 1) / 8 = 4 windows, 2 predictions dropped
        let ev = try EvaluationWindows(reader: r, batchSize: 3, seqLen: 8)
        XCTAssertEqual(ev.windowCount, 4); XCTAssertEqual(ev.batchCount, 2); XCTAssertEqual(ev.predictionCount, 32)
        let batches = Array(ev)
        XCTAssertEqual(batches.map(\.batchSize), [3, 1])
        let targets = batches.flatMap(\.targets)
        XCTAssertEqual(targets, (1...32).map(Int32.init), "each next token 1...32 predicted exactly once, in order")
        XCTAssertEqual(batches.flatMap(\.inputs), (0..<32).map(Int32.init))
        XCTAssertEqual(Array(ev), batches, "deterministic")
        XCTAssertEqual(try EvaluationWindows(reader: r, batchSize: 3, seqLen: 8, maxWindows: 2).predictionCount, 16)
    }
}

final class RandomGeneratorTests: XCTestCase {
    func testSplitMix64PublishedVector() {
        // First outputs of SplitMix64 from state 0 (Vigna's splitmix64.c).
        var s = SplitMix64(state: 0)
        XCTAssertEqual(s.next(), 0xE220_A839_7B1D_CDAF)
        XCTAssertEqual(s.next(), 0x6E78_9E6A_A1B9_65F4)
    }

    func testStateRoundTripAndBoundedIntegers() throws {
        var a = Xoshiro256(seed: 9)
        for _ in 0..<3 { _ = a.next() }
        var b = try JSONDecoder().decode(Xoshiro256.self, from: JSONEncoder().encode(a))
        XCTAssertEqual((0..<5).map { _ in a.next() }, (0..<5).map { _ in b.next() })
        var counts = [Int](repeating: 0, count: 7)
        for _ in 0..<7000 { counts[Int(a.nextInt(below: 7))] += 1 }
        XCTAssertTrue(counts.allSatisfy { $0 > 850 && $0 < 1150 }, "\(counts)")  // ~1000 each, > 4 sigma margin
        XCTAssertEqual(a.nextInt(below: 1), 0)
        XCTAssertThrowsError(try Xoshiro256(state: [0, 0, 0, 0]))
        XCTAssertThrowsError(try JSONDecoder().decode(Xoshiro256.self, from: Data(#"{"state":[1,2]}"#.utf8)))
        let d = a.nextDouble()
        XCTAssertTrue(d >= 0 && d < 1)
    }
}
