// Whole-model finite-difference checks on a tiny config (GQA, left padding, both gradient entry points).

import Foundation
import Llama
import Tensors
import XCTest

final class ModelGradientTests: XCTestCase {
    // No pad_token_id: with one, nn.Embedding(padding_idx:) (and we) give its row no gradient by design,
    // which finite differences would see as an error. Padding is still exercised (token 0, masked keys).
    private func tinyModel(tied: Bool) throws -> LlamaModel {
        var cfg = LlamaConfig(vocabSize: 11, hiddenSize: 8, intermediateSize: 12, numHiddenLayers: 2, numAttentionHeads: 2,
                              numKeyValueHeads: 1, rmsNormEps: 1e-6, tieWordEmbeddings: tied, padTokenId: nil, initializerRange: 0.4)
        cfg.maxPositionEmbeddings = 16
        let model = try LlamaModel(config: cfg, seed: 3)
        var rng = Xoshiro256(seed: 9)
        for p in model.parameters where p.shape.count == 1 {  // norms away from 1 so their gradients matter
            for i in 0..<p.count { p.value[i] = 1 + Float(rng.nextNormal() * 0.2) }
        }
        return model
    }

    private let input = LlamaInput.leftPadded([[3, 7, 1, 9, 4], [5, 2, 8]], padToken: 0)
    private var labels: [Int32] {
        var l = input.tokens
        for i in 0..<l.count where input.attentionMask![i] == 0 { l[i] = -100 }
        return l
    }

    /// d(loss)/dθ for every element of every parameter against central differences of the loss.
    func testCausalLMLossGradients() throws {
        for tied in [false, true] {
            let model = try tinyModel(tied: tied)
            model.zeroGradients()
            _ = model.loss(input: input, labels: labels)
            model.backwardLoss()
            for p in model.parameters {
                assertModelGradient(model, p, analytic: p.grad.toArray(), tied: tied) { Double(model.loss(input: input, labels: labels)) }
            }
        }
    }

    /// The `dHidden` entry point (value and reward heads): objective `sum(hidden * w)`.
    func testHiddenStateGradients() throws {
        let model = try tinyModel(tied: false)
        var rng = Xoshiro256(seed: 5)
        let w = (0..<(input.batch * input.seqLen * model.config.hiddenSize)).map { _ in Float(rng.nextNormal()) }
        func objective() -> Double {
            let h = model.forward(input, computeLogits: false).hidden
            var s = 0.0
            for i in 0..<w.count { s += Double(h[i]) * Double(w[i]) }
            return s
        }
        model.zeroGradients()
        _ = objective()
        w.withUnsafeBufferPointer { model.backward(dLogits: nil, dHidden: $0.baseAddress!) }
        for p in model.parameters where p.name != "lm_head.weight" {
            assertModelGradient(model, p, analytic: p.grad.toArray(), tied: false, objective: objective)
        }
        XCTAssertEqual(model.parameter(named: "lm_head.weight")!.grad.toArray().allSatisfy { $0 == 0 }, true)
    }

    private func assertModelGradient(_ model: LlamaModel, _ p: Parameter, analytic: [Float], tied: Bool,
                                     objective: () -> Double, file: StaticString = #filePath, line: UInt = #line) {
        // Fourth-order central differences: truncation O(h^4), so Float rounding dominates.
        let h: Float = 1e-2
        var numeric = [Double](repeating: 0, count: p.count)
        for i in 0..<p.count {
            let saved = p.value[i]
            var f = [Double]()
            for k: Float in [2, 1, -1, -2] {
                p.value[i] = saved + k * h
                f.append(objective())
            }
            p.value[i] = saved
            numeric[i] = (8 * (f[1] - f[2]) - (f[0] - f[3])) / (12 * Double(h))
        }
        var d2 = 0.0, r2 = 0.0
        for i in 0..<p.count { d2 += pow(Double(analytic[i]) - numeric[i], 2); r2 += numeric[i] * numeric[i] }
        let rel = d2.squareRoot() / max(r2.squareRoot(), 1e-9)
        XCTAssertLessThanOrEqual(rel, 1e-3, "\(p.name) (tied: \(tied)): relative error \(rel)", file: file, line: line)
        XCTAssertGreaterThan(r2, 0, "\(p.name): vacuous check", file: file, line: line)
    }
}
