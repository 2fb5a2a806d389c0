import Foundation
import Llama
import XCTest

/// `LlamaConfig` against config.json files written by transformers v4 (TinyLlama-1.1B, 4.35.0) and v5 (5.24.0).
final class LlamaConfigTests: XCTestCase {
    private func fixture(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil)!
    }

    func testReadsTransformersV4Layout() throws {
        let c = try LlamaConfig.load(contentsOf: fixture("config-v4-tinyllama.json"))
        XCTAssertEqual(c.vocabSize, 32000)
        XCTAssertEqual(c.hiddenSize, 2048)
        XCTAssertEqual(c.intermediateSize, 5632)
        XCTAssertEqual(c.numHiddenLayers, 22)
        XCTAssertEqual(c.numAttentionHeads, 32)
        XCTAssertEqual(c.numKeyValueHeads, 4)
        XCTAssertEqual(c.headDim, 64, "head_dim absent in v4: hidden / heads")
        XCTAssertEqual(c.ropeTheta, 10000)
        XCTAssertEqual(c.rmsNormEps, 1e-5)
        XCTAssertEqual(c.bosTokenId, 1)
        XCTAssertEqual(c.eosTokenId, 2)
        XCTAssertNil(c.padTokenId)
        XCTAssertFalse(c.tieWordEmbeddings)
    }

    func testReadsTransformersV5Layout() throws {
        let c = try LlamaConfig.load(contentsOf: fixture("config-v5-transformers-5.24.json"))
        XCTAssertEqual(c.vocabSize, 64)
        XCTAssertEqual(c.numKeyValueHeads, 2)
        XCTAssertEqual(c.headDim, 8)
        XCTAssertEqual(c.ropeTheta, 10000, "rope_parameters.rope_theta")
        XCTAssertEqual(c.rmsNormEps, 1e-6)
        XCTAssertEqual(c.padTokenId, 0)
    }

    func testWritesBothRopeSpellingsAndRoundTrips() throws {
        let c = LlamaConfig(vocabSize: 100, hiddenSize: 64, intermediateSize: 128, numHiddenLayers: 2,
                            numAttentionHeads: 4, numKeyValueHeads: 2, ropeTheta: 500000, bosTokenId: 97,
                            eosTokenId: 98, padTokenId: 99)
        let data = try c.jsonData()
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(object["rope_theta"] as? Double, 500000)
        XCTAssertEqual((object["rope_parameters"] as? [String: Any])?["rope_theta"] as? Double, 500000)
        XCTAssertEqual((object["rope_parameters"] as? [String: Any])?["rope_type"] as? String, "default")
        XCTAssertEqual(object["architectures"] as? [String], ["LlamaForCausalLM"])
        XCTAssertEqual(object["model_type"] as? String, "llama")
        XCTAssertTrue(String(decoding: data, as: UTF8.self).contains("\"rms_norm_eps\" : 1e-05"), "shortest decimal form")
        XCTAssertEqual(try JSONDecoder().decode(LlamaConfig.self, from: data), c)
    }

    func testEosListTakesFirst() throws {
        let json = #"{"vocab_size": 10, "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "eos_token_id": [3, 4]}"#
        let c = try JSONDecoder().decode(LlamaConfig.self, from: Data(json.utf8))
        XCTAssertEqual(c.eosTokenId, 3)
    }

    func testRejectsHiddenNotDivisibleByHeads() {
        let c = LlamaConfig(vocabSize: 10, hiddenSize: 30, intermediateSize: 16, numHiddenLayers: 1, numAttentionHeads: 4, headDim: 8)
        XCTAssertThrowsError(try c.validate()) { error in
            XCTAssertEqual(error as? LlamaConfigError, .invalid(key: "hidden_size",
                detail: "30 is not divisible by num_attention_heads 4; choose a multiple"))
        }
    }

    func testRejectsHeadsNotMultipleOfKVHeads() {
        let c = LlamaConfig(vocabSize: 10, hiddenSize: 24, intermediateSize: 16, numHiddenLayers: 1, numAttentionHeads: 6, numKeyValueHeads: 4)
        XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("num_key_value_heads")) }
    }

    func testMissingRequiredKeyIsNamed() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cfg-\(UUID().uuidString).json")
        try Data(#"{"vocab_size": 10, "hidden_size": 8}"#.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        XCTAssertThrowsError(try LlamaConfig.load(contentsOf: url)) { error in
            XCTAssertTrue("\(error)".contains("intermediate_size"), "\(error)")
        }
    }
}
