import Foundation
import Llama
import SafeTensors
import XCTest
@testable import Export

/// PEFT key names, scaling and the merge `W + scaling·B·A`.
final class LoRATests: XCTestCase {
    func testPEFTKeyNames() {
        XCTAssertEqual(PEFTAdapter.peftKey("model.layers.0.self_attn.q_proj.weight", "lora_A"),
                       "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight")
        XCTAssertEqual(PEFTAdapter.peftKey("model.layers.11.mlp.down_proj.weight", "lora_B"),
                       "base_model.model.model.layers.11.mlp.down_proj.lora_B.weight")
    }

    func testScaling() {
        XCTAssertEqual(PEFTAdapterConfig(r: 8, loraAlpha: 16, targetModules: ["q_proj"]).scaling, 2)
        // rsLoRA: alpha / sqrt(r) = 16 / 2 = 8 for r = 4.
        XCTAssertEqual(PEFTAdapterConfig(r: 4, loraAlpha: 16, targetModules: ["q_proj"], useRslora: true).scaling, 8)
    }

    func testMergeArithmeticByHand() throws {
        let config = TinyModel.config()
        var tensors = TinyModel.weights(config)
        let name = "model.layers.0.self_attn.q_proj.weight"  // [32, 32]
        tensors[name] = [Float](repeating: 1, count: 32 * 32)
        // r = 2, alpha = 4 → scaling 2. A = [[1, 0, …], [0, 2, 0, …]] (2 × 32); B row o = [o, 1] (32 × 2).
        var a = [Float](repeating: 0, count: 2 * 32)
        a[0] = 1; a[32 + 1] = 2
        let b: [Float] = (0..<32).flatMap { o -> [Float] in [Float(o), 1] }
        let adapter = try PEFTAdapter(config: PEFTAdapterConfig(r: 2, loraAlpha: 4, targetModules: ["q_proj"]),
                                      pairs: [name: .init(a: a, b: b)], base: config)
        let merged = try adapter.merged(into: try LlamaCheckpoint(config: config, tensors: tensors))
        let w = merged.tensors[name]!
        // (B·A)[o, 0] = o·1, (B·A)[o, 1] = 1·2, other columns 0; W' = 1 + 2·(B·A).
        XCTAssertEqual(w[0 * 32 + 0], 1)
        XCTAssertEqual(w[5 * 32 + 0], 11)
        XCTAssertEqual(w[5 * 32 + 1], 5)
        XCTAssertEqual(w[5 * 32 + 2], 1)
        XCTAssertEqual(merged.tensors["model.layers.0.self_attn.k_proj.weight"], tensors["model.layers.0.self_attn.k_proj.weight"])
    }

    func testAdapterRoundTripWithPEFTNames() throws {
        let dir = try TinyModel.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try TinyModel.write(to: dir, adapter: (r: 4, alpha: 8, rslora: true))
        let file = try SafeTensorsFile.read(contentsOf: dir.appendingPathComponent("adapter/adapter_model.safetensors"))
        XCTAssertEqual(file.names.sorted(), [
            "base_model.model.model.layers.0.mlp.down_proj.lora_A.weight",
            "base_model.model.model.layers.0.mlp.down_proj.lora_B.weight",
            "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
            "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight",
        ])
        XCTAssertEqual(file.entry("base_model.model.model.layers.0.mlp.down_proj.lora_A.weight")?.shape, [4, 64])
        XCTAssertEqual(file.entry("base_model.model.model.layers.0.mlp.down_proj.lora_B.weight")?.shape, [32, 4])
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("adapter/adapter_config.json"))) as! [String: Any]
        XCTAssertEqual(json["peft_type"] as? String, "LORA")
        XCTAssertEqual(json["r"] as? Int, 4)
        XCTAssertEqual(json["use_rslora"] as? Bool, true)
        XCTAssertEqual(json["target_modules"] as? [String], ["q_proj", "down_proj"])
        let read = try PEFTAdapter.read(directory: dir.appendingPathComponent("adapter"), base: TinyModel.config())
        XCTAssertEqual(read.config.scaling, 4)
        XCTAssertEqual(read.pairs.count, 2)
    }

    func testInvalidAdaptersAreRejected() throws {
        let config = TinyModel.config()
        let name = "model.layers.0.self_attn.q_proj.weight"
        let pair = PEFTAdapter.Pair(a: [Float](repeating: 0, count: 2 * 32), b: [Float](repeating: 0, count: 32 * 2))
        // Module outside target_modules.
        XCTAssertThrowsError(try PEFTAdapter(config: PEFTAdapterConfig(r: 2, loraAlpha: 4, targetModules: ["v_proj"]), pairs: [name: pair], base: config))
        // Wrong rank.
        XCTAssertThrowsError(try PEFTAdapter(config: PEFTAdapterConfig(r: 3, loraAlpha: 4, targetModules: ["q_proj"]), pairs: [name: pair], base: config))
        // DoRA.
        var dora = PEFTAdapterConfig(r: 2, loraAlpha: 4, targetModules: ["q_proj"])
        dora.useDora = true
        XCTAssertThrowsError(try PEFTAdapter(config: dora, pairs: [name: pair], base: config)) { error in
            guard case .invalidAdapter(_, let detail)? = error as? ExportError else { return XCTFail("\(error)") }
            XCTAssertTrue(detail.contains("use_dora"))
        }
        // A file with an A matrix but no B.
        let dir = try TinyModel.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var writer = SafeTensorsWriter()
        try writer.add(PEFTAdapter.peftKey(name, "lora_A"), shape: [2, 32], floats: pair.a)
        try writer.write(to: dir.appendingPathComponent("adapter_model.safetensors"))
        try JSONEncoder().encode(PEFTAdapterConfig(r: 2, loraAlpha: 4, targetModules: ["q_proj"])).write(to: dir.appendingPathComponent("adapter_config.json"))
        XCTAssertThrowsError(try PEFTAdapter.read(directory: dir, base: config)) { error in
            guard case .invalidAdapter(_, let detail)? = error as? ExportError else { return XCTFail("\(error)") }
            XCTAssertTrue(detail.contains("partner"), detail)
        }
    }
}
