// LoRA (PEFT semantics): initialisation and names, finite-difference check of the adapter's backward
// (with and without dropout), enable/disable, merge = W + scaling·B·A exactly, PEFT save/load round trip.

import Foundation
@testable import Llama
import SafeTensors
import Tensors
import XCTest

final class LoRATests: XCTestCase {
    private let cfg = LlamaConfig(vocabSize: 40, hiddenSize: 24, intermediateSize: 40, numHiddenLayers: 2, numAttentionHeads: 4,
                                  numKeyValueHeads: 2, maxPositionEmbeddings: 64, initializerRange: 0.1)

    private func tmpDir() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lora-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    private func randomize(_ p: Parameter, seed: UInt64, scale: Double = 0.2) {
        var rng = Xoshiro256(seed: seed)
        for i in 0..<p.count { p.value[i] = Float(rng.nextNormal() * scale) }
    }

    private let input = LlamaInput.leftPadded([[1, 5, 9, 13, 2], [7, 3, 30]], padToken: 0)

    private func logits(_ m: LlamaModel) -> [Float] { m.forward(input).logits!.toArray() }

    private func maxDiff(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? 0 }

    // MARK: Creation

    func testApplyLoRANamesShapesInitAndFreezing() throws {
        let model = try LlamaModel(config: cfg, seed: 1)
        let base = logits(model)
        try model.applyLoRA(LoRAConfig(), seed: 3)
        let names = model.loraParameters.map(\.name)
        XCTAssertEqual(names.count, 2 * 2 * 2)
        XCTAssertEqual(names[0], "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight")
        XCTAssertEqual(names[3], "base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight")
        let q = model.loraAdapters[0].adapter, v = model.loraAdapters[1].adapter
        XCTAssertEqual(q.loraA.shape, [16, 24]); XCTAssertEqual(q.loraB.shape, [24, 16])
        XCTAssertEqual(v.loraB.shape, [12, 16], "v_proj out = kv heads * head dim")
        XCTAssertEqual(q.scaling, 2)
        let bound = 1 / Float(24).squareRoot()
        XCTAssertTrue(q.loraA.value.toArray().allSatisfy { abs($0) <= bound })
        XCTAssertGreaterThan(q.loraA.value.toArray().map(abs).max()!, bound * 0.9, "uniform over the whole ±1/sqrt(in)")
        XCTAssertTrue(q.loraB.value.toArray().allSatisfy { $0 == 0 })
        XCTAssertTrue(model.parameters.allSatisfy { !$0.requiresGrad })
        XCTAssertTrue(model.loraParameters.allSatisfy(\.requiresGrad))
        XCTAssertEqual(logits(model), base, "B = 0: the adapted model starts equal to the base")
        XCTAssertEqual(LoRAConfig(r: 4, loraAlpha: 8, useRslora: true).scaling, 4)
        XCTAssertThrowsError(try model.applyLoRA(LoRAConfig(targetModules: ["qproj"]), seed: 0))
        XCTAssertThrowsError(try model.applyLoRA(LoRAConfig(r: 0), seed: 0))
    }

    // MARK: Backward

    /// dA, dB and dx of `L = sum(G ⊙ y)` against central differences, in inference and training (dropout) mode.
    func testAdapterBackwardMatchesFiniteDifferences() throws {
        for training in [false, true] {
            let n = 3, i = 6, o = 5
            var rng = Xoshiro256(seed: 11)
            let a = LoRAAdapter(prefix: "m", inFeatures: i, outFeatures: o, config: LoRAConfig(r: 4, loraAlpha: 8, loraDropout: 0.3), rng: &rng)
            a.isTraining = training
            randomize(a.loraB, seed: 2, scale: 0.5)
            let x = (0..<(n * i)).map { _ in Float(rng.nextNormal()) }
            let g = (0..<(n * o)).map { _ in Float(rng.nextNormal()) }
            let rngState = a.rng
            func loss(_ xs: [Float]) -> Double {
                a.rng = rngState  // the same dropout mask at every evaluation
                var y = [Float](repeating: 0, count: n * o)
                xs.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { a.forward(out: $0.baseAddress!, inp: xp.baseAddress!, rows: n) } }
                return zip(y, g).reduce(0.0) { $0 + Double($1.0 * $1.1) }
            }
            _ = loss(x)
            var dx = [Float](repeating: 0, count: n * i)
            a.loraA.zeroGradient(); a.loraB.zeroGradient()
            x.withUnsafeBufferPointer { xp in g.withUnsafeBufferPointer { gp in dx.withUnsafeMutableBufferPointer {
                a.backward(dinp: $0.baseAddress!, dout: gp.baseAddress!, inp: xp.baseAddress!, rows: n) } } }
            let eps: Float = 1e-2
            for p in a.parameters {
                for k in 0..<p.count {
                    let old = p.value[k]
                    p.value[k] = old + eps; let lp = loss(x)
                    p.value[k] = old - eps; let lm = loss(x)
                    p.value[k] = old
                    XCTAssertEqual(Double(p.grad[k]), (lp - lm) / Double(2 * eps), accuracy: 2e-3, "\(p.name)[\(k)] training \(training)")
                }
            }
            for k in 0..<x.count {
                var xp = x; xp[k] += eps; let lp = loss(xp)
                var xm = x; xm[k] -= eps; let lm = loss(xm)
                XCTAssertEqual(Double(dx[k]), (lp - lm) / Double(2 * eps), accuracy: 2e-3, "dx[\(k)] training \(training)")
            }
            if training {
                // Dropout really drops: some inputs get no gradient.
                XCTAssertTrue(dx.contains(0))
            }
        }
    }

    /// Through the whole model: only adapter parameters receive gradients, and one of them matches a
    /// finite difference of the causal-LM loss.
    func testModelGradientReachesAdaptersOnly() throws {
        let model = try LlamaModel(config: cfg, seed: 4)
        try model.applyLoRA(LoRAConfig(r: 4, loraAlpha: 8, loraDropout: 0, targetModules: ["q_proj", "v_proj", "down_proj"]), seed: 5)
        for (_, a) in model.loraAdapters { randomize(a.loraB, seed: 9, scale: 0.3) }
        let labels = input.tokens.enumerated().map { input.attentionMask![$0.offset] == 0 ? Int32(-100) : $0.element }
        model.zeroGradients()
        _ = model.loss(input: input, labels: labels)
        model.backwardLoss()
        XCTAssertTrue(model.parameters.allSatisfy { $0.grad.toArray().allSatisfy { $0 == 0 } }, "frozen base gets no gradient")
        let p = model.loraAdapters.last!.adapter.loraA
        XCTAssertTrue(p.name.hasSuffix("layers.1.mlp.down_proj.lora_A.weight"))
        for k in [0, 7, 33] {
            let old = p.value[k], eps: Float = 1e-2
            p.value[k] = old + eps; let lp = model.loss(input: input, labels: labels)
            p.value[k] = old - eps; let lm = model.loss(input: input, labels: labels)
            p.value[k] = old
            XCTAssertEqual(p.grad[k], (lp - lm) / (2 * eps), accuracy: 2e-3)
        }
    }

    // MARK: Switching and merging

    func testDisableGivesBaseAndMergeAddsScaledBA() throws {
        let model = try LlamaModel(config: cfg, seed: 6)
        let base = logits(model)
        let baseWeights = model.parameters.map { $0.value.toArray() }
        try model.applyLoRA(LoRAConfig(targetModules: ["q_proj", "v_proj", "gate_proj"]), seed: 8)
        for (k, (_, a)) in model.loraAdapters.enumerated() { randomize(a.loraB, seed: UInt64(20 + k)) }
        let adapted = logits(model)
        XCTAssertGreaterThan(maxDiff(adapted, base), 1e-3)
        model.setLoRAEnabled(false)
        XCTAssertEqual(logits(model), base, "disabled adapters = the base model")
        model.setLoRAEnabled(true)
        XCTAssertEqual(model.withLoRADisabled { logits(model) }, base)
        XCTAssertEqual(logits(model), adapted)

        // Expected W + (alpha / r) B A, computed here in Double.
        var expected: [String: [Float]] = [:]
        let scaling = 32.0 / 16.0
        for (module, a) in model.loraAdapters {
            let name = String(module.dropFirst("base_model.model.".count)) + ".weight"
            let w = model.parameter(named: name)!.value.toArray()
            let A = a.loraA.value.toArray(), B = a.loraB.value.toArray()
            var e = w
            for r in 0..<a.outFeatures {
                for c in 0..<a.inFeatures {
                    var s = 0.0
                    for k in 0..<a.rank { s += Double(B[r * a.rank + k]) * Double(A[k * a.inFeatures + c]) }
                    e[r * a.inFeatures + c] = Float(Double(w[r * a.inFeatures + c]) + scaling * s)
                }
            }
            expected[name] = e
        }
        model.mergeLoRA()
        XCTAssertTrue(model.loraAdapters.isEmpty)
        XCTAssertTrue(model.parameters.allSatisfy(\.requiresGrad))
        for (p, old) in zip(model.parameters, baseWeights) {
            if let e = expected[p.name] {
                XCTAssertLessThanOrEqual(maxDiff(p.value.toArray(), e), 1e-6, p.name)
            } else {
                XCTAssertEqual(p.value.toArray(), old, "\(p.name) is not a target and must not change")
            }
        }
        XCTAssertLessThanOrEqual(maxDiff(logits(model), adapted), 1e-4, "merged logits = adapter logits")
    }

    /// Generation uses the adapters (and equals generation with the merged weights).
    func testGenerationWithAdaptersEqualsMerged() throws {
        let model = try LlamaModel(config: cfg, seed: 12)
        try model.applyLoRA(LoRAConfig(), seed: 13)
        for (k, (_, a)) in model.loraAdapters.enumerated() { randomize(a.loraB, seed: UInt64(40 + k), scale: 0.5) }
        let prompts: [[Int32]] = [[1, 2, 3, 4], [9]]
        let config = GenerationConfig(maxNewTokens: 8)
        let adapted = try generate(model: model, prompts: prompts, config: config)
        let reference = try model.withLoRADisabled { try generate(model: model, prompts: prompts, config: config) }
        model.mergeLoRA()
        XCTAssertEqual(try generate(model: model, prompts: prompts, config: config).tokens, adapted.tokens)
        XCTAssertNotEqual(reference.tokens, adapted.tokens)
    }

    // MARK: PEFT files

    func testSaveLoadRoundTripInPEFTLayout() throws {
        let dir = try tmpDir()
        let model = try LlamaModel(config: cfg, seed: 14)
        try model.applyLoRA(LoRAConfig(r: 8, loraAlpha: 16, loraDropout: 0.05, targetModules: ["q_proj", "o_proj"]), seed: 15)
        for (k, (_, a)) in model.loraAdapters.enumerated() { randomize(a.loraB, seed: UInt64(60 + k)) }
        try model.save(directory: dir)
        try model.saveLoRA(modelDirectory: dir)
        let adapted = logits(model)

        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("adapter/adapter_config.json"))) as! [String: Any]
        XCTAssertEqual(json["peft_type"] as? String, "LORA")
        XCTAssertEqual(json["r"] as? Int, 8)
        XCTAssertEqual(json["lora_alpha"] as? Double, 16)
        XCTAssertEqual(json["target_modules"] as? [String], ["q_proj", "o_proj"])
        let file = try SafeTensorsFile.read(contentsOf: dir.appendingPathComponent("adapter/adapter_model.safetensors"))
        XCTAssertEqual(Set(file.names), Set(model.loraParameters.map(\.name)))
        XCTAssertEqual(file.entry("base_model.model.model.layers.1.self_attn.o_proj.lora_B.weight")?.shape, [24, 8])

        let reloaded = try LlamaModel.load(directory: dir)
        let lc = try reloaded.loadLoRA(modelDirectory: dir)
        XCTAssertEqual(lc, LoRAConfig(r: 8, loraAlpha: 16, loraDropout: 0.05, targetModules: ["q_proj", "o_proj"]))
        XCTAssertEqual(logits(reloaded), adapted)
        XCTAssertTrue(reloaded.parameters.allSatisfy { !$0.requiresGrad })

        // An adapter for another model shape fails naming the tensor, and attaches nothing.
        let other = try LlamaModel(config: LlamaConfig(vocabSize: 40, hiddenSize: 32, intermediateSize: 40, numHiddenLayers: 2,
                                                       numAttentionHeads: 4), seed: 1)
        XCTAssertThrowsError(try other.loadLoRA(modelDirectory: dir)) { XCTAssertTrue("\($0)".contains("lora_A.weight"), "\($0)") }
        XCTAssertTrue(other.loraAdapters.isEmpty)
        XCTAssertThrowsError(try other.saveLoRA(modelDirectory: dir))
        XCTAssertThrowsError(try other.loadLoRA(modelDirectory: dir.appendingPathComponent("missing")))
    }
}
