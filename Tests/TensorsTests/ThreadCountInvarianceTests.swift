// sgemm split over threads gives the same bits as one call: the thread count is an execution setting
// (`rlhf run --threads`), not something the results may depend on.

@testable import Tensors
import XCTest

final class ThreadCountInvarianceTests: XCTestCase {
    private var savedThreads = 1

    override func setUp() { savedThreads = BLAS.threads }
    override func tearDown() { BLAS.setThreads(savedThreads) }

    /// Every transpose combination, ragged sizes (not multiples of 16), strided operands and beta 0 / 1:
    /// the product at 2, 3 and 4 threads equals the one-thread product bit for bit.
    func testSplitSgemmIsBitIdenticalToOneCall() {
        var rng = Xoshiro256(seed: 5)
        // (m, n, k): split along M (m >= n) and along N, each above the split threshold.
        // The last two are mid-size (a decoding batch): OpenBLAS's own threads run them.
        let shapes = [(1000, 333, 77), (200, 1030, 61), (2048, 256, 256), (688, 256, 300), (16, 688, 256), (16, 256, 256)]
        for (m, n, k) in shapes {
            XCTAssertGreaterThanOrEqual(m * n * k, openBLASThreadedMinimum, "shape must be large enough to thread")
            for transA in [false, true] {
                for transB in [false, true] {
                    for beta: Float in [0, 1] {
                        let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 5, ldc = n + 2
                        let a = (0..<((transA ? k : m) * lda)).map { _ in Float(rng.nextNormal()) }
                        let b = (0..<((transB ? n : k) * ldb)).map { _ in Float(rng.nextNormal()) }
                        let c0 = (0..<(m * ldc)).map { _ in Float(rng.nextNormal()) }
                        func product(threads: Int) -> [Float] {
                            BLAS.setThreads(threads)
                            var c = c0
                            c.withUnsafeMutableBufferPointer { cp in
                                sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.7, a: a, lda: lda,
                                      b: b, ldb: ldb, beta: beta, c: cp.baseAddress!, ldc: ldc)
                            }
                            return c
                        }
                        let one = product(threads: 1)
                        for t in [2, 3, 4] {
                            let other = product(threads: t)
                            XCTAssertTrue(one.elementsEqual(other) { $0.bitPattern == $1.bitPattern },
                                          "m \(m) n \(n) k \(k) transA \(transA) transB \(transB) beta \(beta): \(t) threads differ from 1")
                        }
                    }
                }
            }
        }
    }

    /// The decoding matrix-vector product at 2 and 4 threads equals the one-thread product bit for bit.
    func testThreadedSgemvIsBitIdenticalToOneThread() {
        var rng = Xoshiro256(seed: 6)
        for (m, n) in [(4096, 256), (688, 256), (256, 688), (333, 77)] {
            let lda = n + 3
            let a = (0..<(m * lda)).map { _ in Float(rng.nextNormal()) }
            let x = (0..<n).map { _ in Float(rng.nextNormal()) }
            func product(threads: Int) -> [Float] {
                BLAS.setThreads(threads)
                var y = [Float](repeating: .nan, count: m)
                y.withUnsafeMutableBufferPointer { sgemv(m: m, n: n, a: a, lda: lda, x: x, y: $0.baseAddress!) }
                return y
            }
            let one = product(threads: 1)
            XCTAssertFalse(one.contains { $0.isNaN }, "every output written")
            for t in [2, 4] {
                XCTAssertTrue(one.elementsEqual(product(threads: t)) { $0.bitPattern == $1.bitPattern }, "m \(m) n \(n): \(t) threads differ")
            }
        }
    }
}
