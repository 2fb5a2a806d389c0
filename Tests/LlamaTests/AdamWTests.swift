// AdamW and clipping beyond the fixtures: exact resume from saved state, frozen parameters, clipping.

import Foundation
import Llama
import SafeTensors
import Tensors
import Training
import XCTest

final class AdamWTests: XCTestCase {
    private func model() throws -> LlamaModel {
        try LlamaModel.load(directory: try fixturesURL().appendingPathComponent("untied"))
    }

    private let input = LlamaInput(tokens: [3, 9, 27, 17, 51, 12, 8, 40], batch: 2, seqLen: 4)

    private func trainStep(_ m: LlamaModel, _ opt: AdamW) {
        m.zeroGradients()
        _ = m.loss(input: input, labels: input.tokens)
        m.backwardLoss()
        clipGradientNorm(m.parameters, maxNorm: 1)
        opt.step()
    }

    /// 4 steps straight == 2 steps, save (weights + optimizer), reload into fresh objects, 2 steps: bit-identical.
    func testExactResumeFromSavedState() throws {
        let hp = AdamW.Hyperparameters(lr: 3e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1)
        let a = try model(), optA = AdamW(parameters: a.parameters, hyperparameters: hp)
        for _ in 0..<4 { trainStep(a, optA) }

        let b = try model(), optB = AdamW(parameters: b.parameters, hyperparameters: hp)
        for _ in 0..<2 { trainStep(b, optB) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("adamw-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try b.save(directory: dir)
        try optB.save(to: dir.appendingPathComponent("optimizer.safetensors"))

        let c = try LlamaModel.load(directory: dir)
        let optC = AdamW(parameters: c.parameters)
        try optC.load(from: dir.appendingPathComponent("optimizer.safetensors"))
        XCTAssertEqual(optC.step, 2)
        XCTAssertEqual(optC.hyperparameters, hp)
        for _ in 0..<2 { trainStep(c, optC) }
        for (x, y) in zip(a.parameters, c.parameters) { XCTAssertEqual(x.value.toArray(), y.value.toArray(), x.name) }
        // The Codable state round-trips through JSON too.
        let json = try JSONEncoder().encode(optA.state())
        let optD = AdamW(parameters: c.parameters)
        try optD.restore(try JSONDecoder().decode(AdamW.State.self, from: json))
        XCTAssertEqual(optD.state(), optA.state())
    }

    func testFrozenParametersAreUntouched() throws {
        let m = try model()
        let frozen = m.parameter(named: "model.layers.0.self_attn.q_proj.weight")!
        frozen.requiresGrad = false
        let before = frozen.value.toArray()
        let opt = AdamW(parameters: m.parameters, hyperparameters: .init(lr: 1e-2))
        XCTAssertEqual(opt.parameters.count, m.parameters.count - 1)
        trainStep(m, opt)
        XCTAssertEqual(frozen.value.toArray(), before)
        XCTAssertTrue(frozen.grad.toArray().allSatisfy { $0 == 0 }, "backward skips frozen weights")
    }

    func testClippingReturnsPreClipNormAndScales() {
        let p = Parameter(name: "a", shape: [2], weightDecay: false)
        let q = Parameter(name: "b", shape: [1], weightDecay: false)
        p.grad.copy(from: [3, 0]); q.grad.copy(from: [4])
        XCTAssertEqual(clipGradientNorm([p, q], maxNorm: 1), 5)
        XCTAssertEqual(gradientNorm([p, q]), 1, accuracy: 1e-6)
        XCTAssertEqual(clipGradientNorm([p, q], maxNorm: 10), gradientNorm([p, q]), "no scaling below the limit")
        q.grad[0] = .nan
        XCTAssertTrue(clipGradientNorm([p, q], maxNorm: 1).isNaN, "a non-finite norm is reported")
    }

    func testLoadRejectsStateOfAnotherModel() throws {
        let m = try model()
        let opt = AdamW(parameters: m.parameters)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("opt-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try opt.save(to: url)
        let cfg = LlamaConfig(vocabSize: 64, hiddenSize: 32, intermediateSize: 48, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2)
        let other = AdamW(parameters: try LlamaModel(config: cfg, seed: 0).parameters)
        XCTAssertThrowsError(try other.load(from: url)) { error in
            guard case SafeTensorsError.shapeMismatch(let name, _, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "exp_avg.model.layers.0.mlp.gate_proj.weight")
        }
    }
}
