// Model behaviour: padding invariance, save/load round trips, initialisation, bad input.

import Foundation
import Llama
import SafeTensors
import Tensors
import Training
import XCTest

final class LlamaModelTests: XCTestCase {
    private func tmpDir() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("llama-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    private func untied() throws -> LlamaModel {
        try LlamaModel.load(directory: try fixturesURL().appendingPathComponent("untied"))
    }

    // MARK: Behaviour

    /// A sequence's logits do not depend on the left padding it is batched with.
    func testLeftPaddingDoesNotChangeRealTokens() throws {
        let model = try untied()
        let v = model.config.vocabSize
        let seq: [Int32] = [5, 9, 12, 40]
        let alone = model.forward(LlamaInput(tokens: seq, batch: 1, seqLen: 4)).logits!.toArray()
        let batch = LlamaInput.leftPadded([[3, 4, 5, 6, 7, 8, 9], seq], padToken: 0)
        let logits = model.forward(batch).logits!.toArray()
        let row1 = Array(logits[(7 * v + 3 * v)..<(14 * v)])
        XCTAssertLessThanOrEqual(maxAbsDiff(row1, alone), 1e-5)
        XCTAssertFalse(logits.contains { $0.isNaN }, "pad queries must not produce NaN")
    }

    func testInitialisationFollowsHF() throws {
        let cfg = LlamaConfig(vocabSize: 50, hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 1, numAttentionHeads: 4,
                              numKeyValueHeads: 2, padTokenId: 3, initializerRange: 0.02)
        let m = try LlamaModel(config: cfg, seed: 1)
        XCTAssertEqual(m.parameters.map(\.name), [
            "model.embed_tokens.weight",
            "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight",
            "model.layers.0.self_attn.v_proj.weight", "model.layers.0.self_attn.o_proj.weight",
            "model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.down_proj.weight",
            "model.layers.0.input_layernorm.weight", "model.layers.0.post_attention_layernorm.weight",
            "model.norm.weight", "lm_head.weight"])
        XCTAssertEqual(m.parameter(named: "model.layers.0.self_attn.k_proj.weight")!.shape, [8, 16])
        XCTAssertTrue(m.norm.value.toArray().allSatisfy { $0 == 1 })
        XCTAssertTrue(m.embedTokens.value.toArray()[(3 * 16)..<(4 * 16)].allSatisfy { $0 == 0 }, "pad row zeroed")
        let w = m.parameter(named: "model.layers.0.mlp.up_proj.weight")!.value.toArray()
        let mean = w.reduce(0, +) / Float(w.count)
        let std = (w.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(w.count)).squareRoot()
        XCTAssertEqual(std, 0.02, accuracy: 0.002)
        XCTAssertEqual(mean, 0, accuracy: 0.002)
        XCTAssertEqual(m.parameters.filter(\.weightDecay).map(\.name).count, 8, "linear weights decay; norms and embedding do not")
        XCTAssertEqual(try LlamaModel(config: cfg, seed: 1).parameters.map { $0.value.toArray() }, m.parameters.map { $0.value.toArray() })
    }

    func testSaveLoadRoundTrip() throws {
        for tied in ["untied", "tied"] {
            let model = try LlamaModel.load(directory: try fixturesURL().appendingPathComponent(tied))
            let dir = try tmpDir()
            try model.save(directory: dir)
            let back = try LlamaModel.load(directory: dir)
            XCTAssertEqual(back.config, model.config)
            XCTAssertEqual(back.parameters.map(\.name), model.parameters.map(\.name))
            for (a, b) in zip(back.parameters, model.parameters) { XCTAssertEqual(a.value.toArray(), b.value.toArray(), a.name) }
            let file = try SafeTensorsFile.read(contentsOf: dir.appendingPathComponent("model.safetensors"))
            XCTAssertEqual(file.metadata["format"], "pt")
            XCTAssertEqual(file.contains("lm_head.weight"), tied == "untied")
        }
    }

    func testCausalLossIgnoresLastPositionAndMinus100() throws {
        let model = try untied()
        let input = LlamaInput(tokens: [4, 8, 15, 16], batch: 1, seqLen: 4)
        let full = model.loss(input: input, labels: [4, 8, 15, 16])
        let logits = model.forward(input).logits!.toArray()
        let v = model.config.vocabSize
        func nll(_ row: Int, _ target: Int) -> Double {
            let z = (0..<v).map { Double(logits[row * v + $0]) }, m = z.max()!
            return log(z.map { exp($0 - m) }.reduce(0, +)) + m - z[target]
        }
        XCTAssertEqual(Double(full), (nll(0, 8) + nll(1, 15) + nll(2, 16)) / 3, accuracy: 1e-5)
        let partial = model.loss(input: input, labels: [4, -100, 15, 16])
        XCTAssertEqual(Double(partial), (nll(1, 15) + nll(2, 16)) / 2, accuracy: 1e-5)
    }

    // MARK: Bad input

    func testHiddenNotDivisibleByHeadsIsRejected() throws {
        let cfg = LlamaConfig(vocabSize: 10, hiddenSize: 30, intermediateSize: 8, numHiddenLayers: 1, numAttentionHeads: 4, headDim: 8)
        XCTAssertThrowsError(try LlamaModel(config: cfg, seed: 0)) { error in
            guard case LlamaConfigError.invalid(let key, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(key, "hidden_size")
        }
        let dir = try tmpDir()
        var json = try String(contentsOf: try fixturesURL().appendingPathComponent("untied/config.json"), encoding: .utf8)
        json = json.replacingOccurrences(of: "\"hidden_size\": 32", with: "\"hidden_size\": 30")
        try json.write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try LlamaModel.load(directory: dir)) { error in
            guard case LlamaConfigError.invalid(let key, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(key, "hidden_size")
        }
    }

    /// A directory holding the fixture config and a weights file built by `edit`.
    private func checkpoint(_ edit: (inout SafeTensorsWriter, Parameter) throws -> Void) throws -> URL {
        let model = try untied()
        let dir = try tmpDir()
        try model.config.write(to: dir.appendingPathComponent("config.json"))
        var w = SafeTensorsWriter()
        for p in model.parameters { try edit(&w, p) }
        try w.write(to: dir.appendingPathComponent("model.safetensors"))
        return dir
    }

    private let target = "model.layers.1.self_attn.k_proj.weight"

    func testTruncatedWeightsFile() throws {
        let dir = try checkpoint { w, p in try w.add(p.name, shape: p.shape, floats: p.value.toArray()) }
        let url = dir.appendingPathComponent("model.safetensors")
        let data = try Data(contentsOf: url)
        try data.prefix(data.count - 100).write(to: url)
        XCTAssertThrowsError(try LlamaModel.load(directory: dir)) { error in
            guard case SafeTensorsError.truncated(_, let detail) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(detail.contains("'"), "names the tensor: \(detail)")
        }
    }

    func testWrongShape() throws {
        let dir = try checkpoint { w, p in
            try w.add(p.name, shape: p.name == target ? [p.shape[1], p.shape[0]] : p.shape, floats: p.value.toArray())
        }
        XCTAssertThrowsError(try LlamaModel.load(directory: dir)) { error in
            XCTAssertEqual(error as? SafeTensorsError, .shapeMismatch(name: target, expected: [16, 32], found: [32, 16]))
        }
    }

    func testWrongDType() throws {
        let dir = try checkpoint { w, p in
            if p.name == target {
                try w.addRaw(p.name, shape: p.shape, dtype: .i32, bytes: Data(count: p.count * 4))
            } else {
                try w.add(p.name, shape: p.shape, floats: p.value.toArray())
            }
        }
        XCTAssertThrowsError(try LlamaModel.load(directory: dir)) { error in
            XCTAssertEqual(error as? SafeTensorsError, .unsupportedDType(name: target, dtype: "I32"))
        }
    }

    func testMissingTensor() throws {
        let dir = try checkpoint { w, p in if p.name != target { try w.add(p.name, shape: p.shape, floats: p.value.toArray()) } }
        XCTAssertThrowsError(try LlamaModel.load(directory: dir)) { error in
            guard case SafeTensorsError.missingTensor(let name, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(name, target)
        }
    }

    func testUnexpectedTensorAndHalfPrecision() throws {
        let dir = try checkpoint { w, p in
            try w.add(p.name, shape: p.shape, floats: p.value.toArray(), dtype: .bf16)
            if p.name == "model.norm.weight" { try w.add("score.weight", shape: [1, 32], floats: [Float](repeating: 0, count: 32)) }
        }
        XCTAssertThrowsError(try LlamaModel.load(directory: dir)) { error in
            guard case LlamaError.unexpectedTensor(let name, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "score.weight")
        }
        let lenient = try LlamaModel.load(directory: dir, strict: false)
        let ref = try untied()
        for (a, b) in zip(lenient.parameters, ref.parameters) {
            XCTAssertLessThanOrEqual(maxAbsDiff(a.value.toArray(), b.value.toArray()), 0.01, a.name)  // bf16 rounding
        }
    }

    func testInvalidInputIsATypedError() throws {
        let cfg = try untied().config
        XCTAssertThrowsError(try LlamaInput(tokens: [1, 64], batch: 1, seqLen: 2).validate(for: cfg)) { error in
            guard case LlamaError.invalidInput(let what) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(what.contains("64") && what.contains("index 1"), what)
        }
        XCTAssertThrowsError(try LlamaInput(tokens: [1, 2, 3], batch: 1, seqLen: 2).validate(for: cfg))
        XCTAssertThrowsError(try LlamaInput(tokens: [1, 2], batch: 1, seqLen: 2, attentionMask: [1]).validate(for: cfg))
    }
}
