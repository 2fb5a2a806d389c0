// A few training steps of a model large enough for every threaded path (split sgemm, attention items,
// row and element splits) give bit-identical weights at 1, 2, 3 and 4 threads.

import Foundation
import Llama
import Tensors
import Training
import XCTest

final class ThreadCountTrainingTests: XCTestCase {
    private var savedThreads = 1

    override func setUp() { savedThreads = BLAS.threads }
    override func tearDown() { BLAS.setThreads(savedThreads) }

    /// Weights after 2 steps (forward, loss, backward, clipping, AdamW) at `threads` threads.
    private func train(threads: Int) throws -> [[UInt32]] {
        BLAS.setThreads(threads)
        // N = B*T = 256 tokens, C 128: every projection is above the sgemm split threshold.
        let cfg = LlamaConfig(vocabSize: 256, hiddenSize: 128, intermediateSize: 352, numHiddenLayers: 2,
                              numAttentionHeads: 4, numKeyValueHeads: 2, padTokenId: 0)
        let model = try LlamaModel(config: cfg, seed: 3)
        let opt = AdamW(parameters: model.parameters, hyperparameters: .init(lr: 1e-2, weightDecay: 0.1))
        var rng = Xoshiro256(seed: 9)
        let b = 4, t = 64
        let tokens = (0..<(b * t)).map { _ in Int32(1 + rng.next() % 255) }
        var mask = [UInt8](repeating: 1, count: b * t)
        for i in 0..<5 { mask[t + i] = 0 }  // left padding in sequence 1
        let input = LlamaInput(tokens: tokens, batch: b, seqLen: t, attentionMask: mask)
        var labels = tokens
        for i in 0..<5 { labels[t + i] = -100 }
        for _ in 0..<2 {
            model.zeroGradients()
            _ = model.loss(input: input, labels: labels)
            model.backwardLoss()
            clipGradientNorm(model.parameters, maxNorm: 1)
            opt.step()
        }
        return model.parameters.map { p in (0..<p.count).map { p.value[$0].bitPattern } }
    }

    func testTrainingIsBitIdenticalAtAnyThreadCount() throws {
        let one = try train(threads: 1)
        for threads in [2, 3, 4] {
            let other = try train(threads: threads)
            XCTAssertTrue(one == other, "weights after 2 steps at \(threads) threads differ from 1 thread")
        }
    }
}
