import Tensors
import XCTest
@testable import Alignment

/// The PPO update's fused entropy + log-prob backward equals the separate kernels bit for bit, at any
/// thread count (rows are split over threads, each row's sums stay in one thread).
final class FusedLogProbKernelTests: XCTestCase {
    override func tearDown() {
        ComputeThreads.set(ComputeThreads.defaultCount)
        super.tearDown()
    }

    func testFusedKernelEqualsSeparateKernelsAtAnyThreadCount() {
        let N = 67, V = 301, T: Float = 0.7
        var rng = SplitMix64(state: 42)
        let logits = (0..<(N * V)).map { _ in Float(Double(rng.next() % 20_000) / 1_000 - 10) }
        let tokens = (0..<N).map { _ in Int32(rng.next() % UInt64(V)) }
        let weights = (0..<N).map { i in i % 5 == 0 ? Float(0) : Float(Double(rng.next() % 2_000) / 1_000 - 1) }

        ComputeThreads.set(1)
        let lp = gatherLogProbs(logits: logits, tokens: tokens, vocabSize: V, temperature: T)
        let h = entropy(logits: logits, rows: N, vocabSize: V, temperature: T)
        var d = [Float](repeating: 0.25, count: N * V)
        gatherLogProbsBackward(dlogits: &d, logits: logits, tokens: tokens, weights: weights, vocabSize: V, temperature: T)

        for threads in [1, 2, 3] {
            ComputeThreads.set(threads)
            let (lp2, lse) = logits.withUnsafeBufferPointer {
                gatherLogProbsAndLogSumExp(logits: $0, tokens: tokens, vocabSize: V, temperature: T)
            }
            XCTAssertEqual(lp2, lp, "log-probs, \(threads) threads")
            XCTAssertEqual(gatherLogProbs(logits: logits, tokens: tokens, vocabSize: V, temperature: T), lp)
            var d2 = [Float](repeating: 0.25, count: N * V)
            let h2 = d2.withUnsafeMutableBufferPointer { dp in
                logits.withUnsafeBufferPointer { lg in
                    entropyAndGatherLogProbsBackward(dlogits: dp, logits: lg, logSumExp: lse, tokens: tokens, weights: weights,
                                                     vocabSize: V, temperature: T)
                }
            }
            XCTAssertEqual(h2, h, "entropy, \(threads) threads")
            XCTAssertEqual(d2, d, "gradient, \(threads) threads")
            XCTAssertEqual(entropy(logits: logits, rows: N, vocabSize: V, temperature: T), h)
        }
        // Rows with weight 0 get no gradient, only their entropy.
        for i in stride(from: 0, to: N, by: 5) {
            XCTAssertTrue(d[(i * V)..<((i + 1) * V)].allSatisfy { $0 == 0.25 })
        }
    }
}
