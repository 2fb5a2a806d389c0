import Foundation
import Llama
import Logging
import SafeTensors
import XCTest
@testable import Export

/// End-to-end exports of tiny model directories, and the errors of bad input.
final class ModelExporterTests: XCTestCase {
    private var root: URL!
    private let exporter = ModelExporter(logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))

    override func setUpWithError() throws { root = try TinyModel.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    private func model(_ name: String = "model", config: LlamaConfig = TinyModel.config(), dtype: SafeTensorsDType = .f32,
                       adapter: (r: Int, alpha: Double, rslora: Bool)? = nil) throws -> (URL, [String: [Float]]) {
        let dir = root.appendingPathComponent(name)
        let w = try TinyModel.write(to: dir, config: config, dtype: dtype, adapter: adapter)
        return (dir, w)
    }

    private func leftovers() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: root.path).filter { $0.contains(".tmp-") || $0.contains(".old-") }
    }

    // MARK: - hf

    func testHFExportWritesEveryFileTransformersNeeds() throws {
        let (dir, w) = try model()
        let out = root.appendingPathComponent("hf")
        let lineage = ModelLineage(pipeline: "tiny.yaml", stages: [.init(name: "ppo", kind: "ppo", artifactDigest: "ab12", parameters: ["klCoef": "0.05"])],
                                   dataDigests: ["tinyshakespeare": "86c4e6aa"], metrics: ["objective/kl": 0.5])
        let result = try exporter.export(.directory(dir), to: out, options: ExportOptions(format: .hf, dtype: .bf16, lineage: lineage))
        XCTAssertEqual(Set(result.files.keys), ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                                                "special_tokens_map.json", "generation_config.json", "README.md"])
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("config.json"))) as! [String: Any]
        XCTAssertEqual(config["architectures"] as? [String], ["LlamaForCausalLM"])
        XCTAssertEqual(config["model_type"] as? String, "llama")
        XCTAssertEqual(config["dtype"] as? String, "bfloat16")
        XCTAssertEqual(config["torch_dtype"] as? String, "bfloat16")
        for key in ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                    "head_dim", "hidden_act", "max_position_embeddings", "rms_norm_eps", "rope_theta", "tie_word_embeddings",
                    "bos_token_id", "eos_token_id", "pad_token_id", "attention_bias", "mlp_bias"] {
            XCTAssertNotNil(config[key], key)
        }
        let st = try SafeTensorsFile.read(contentsOf: out.appendingPathComponent("model.safetensors"))
        XCTAssertEqual(st.metadata["format"], "pt")
        XCTAssertEqual(st.names.count, LlamaTensorLayout(config: TinyModel.config()).tensors.count)
        XCTAssertTrue(st.entries.allSatisfy { $0.dtype == .bf16 })
        let q = "model.layers.0.self_attn.q_proj.weight"
        XCTAssertEqual(try st.floats(q), w[q]!.map { bfloat16BitsToFloat(floatToBFloat16Bits($0)) })
        let tc = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("tokenizer_config.json"))) as! [String: Any]
        XCTAssertEqual(tc["tokenizer_class"] as? String, "PreTrainedTokenizerFast")
        XCTAssertEqual(tc["eos_token"] as? String, "<|endoftext|>")
        XCTAssertEqual(tc["pad_token"] as? String, "<|pad|>")
        let gen = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("generation_config.json"))) as! [String: Any]
        XCTAssertEqual(gen["eos_token_id"] as? Int, 0)
        let card = try String(contentsOf: out.appendingPathComponent("README.md"), encoding: .utf8)
        XCTAssertTrue(card.hasPrefix("---\nlibrary_name: transformers\n"))
        XCTAssertTrue(card.contains("| ppo | ppo | `ab12` | klCoef=0.05 |"))
        XCTAssertTrue(card.contains("tinyshakespeare: `86c4e6aa`"))
        XCTAssertTrue(card.contains("| `objective/kl` | 0.5 |"))
        XCTAssertEqual(try leftovers(), [])
    }

    func testGenerationConfigIsWhatTransformersWritesWithoutARedundantMaxLength() throws {
        let c = TinyModel.config()
        func fields(_ data: Data) throws -> [String: Any] { try JSONSerialization.jsonObject(with: data) as! [String: Any] }
        // No source file: transformers 5.x's save_pretrained fields for a Llama (checked with transformers 5.24).
        let fresh = try fields(ModelExporter.generationConfigJSON(source: nil, config: c))
        XCTAssertEqual(Set(fresh.keys), ["_from_model_config", "bos_token_id", "eos_token_id", "pad_token_id",
                                         "output_attentions", "output_hidden_states", "use_cache"])
        XCTAssertNil(fresh["max_length"])
        // What rlhf's trainer wrote before: max_length = max_position_embeddings is dropped, the rest kept.
        let old = try JSONSerialization.data(withJSONObject: ["_from_model_config": true, "do_sample": false, "eos_token_id": 0,
                                                              "max_length": c.maxPositionEmbeddings])
        let cleaned = try fields(ModelExporter.generationConfigJSON(source: old, config: c))
        XCTAssertNil(cleaned["max_length"])
        XCTAssertEqual(cleaned["do_sample"] as? Bool, false)
        XCTAssertEqual(cleaned["eos_token_id"] as? Int, 0)
        // A hub model's own max_length (e.g. Llama 2's 4096 with sampling settings) is kept.
        let hub = try JSONSerialization.data(withJSONObject: ["max_length": 4096, "temperature": 0.6, "top_p": 0.9])
        XCTAssertEqual(try fields(ModelExporter.generationConfigJSON(source: hub, config: c))["max_length"] as? Int, 4096)
    }

    func testMergedHFExportEqualsBasePlusScaledBA() throws {
        let (dir, w) = try model(adapter: (r: 2, alpha: 6, rslora: false))
        let out = root.appendingPathComponent("merged")
        _ = try exporter.export(.directory(dir), to: out, options: ExportOptions(format: .hf, merge: true))
        let st = try SafeTensorsFile.read(contentsOf: out.appendingPathComponent("model.safetensors"))
        let adapter = try PEFTAdapter.read(directory: dir.appendingPathComponent("adapter"), base: TinyModel.config())
        let name = "model.layers.0.mlp.down_proj.weight"  // [32, 64]
        let pair = adapter.pairs[name]!
        let merged = try st.floats(name)
        for (o, c) in [(0, 0), (3, 17), (31, 63)] {
            let ba = (0..<2).reduce(Float(0)) { $0 + pair.b[o * 2 + $1] * pair.a[$1 * 64 + c] }
            XCTAssertEqual(merged[o * 64 + c], w[name]![o * 64 + c] + 3 * ba, accuracy: 1e-6)
        }
        XCTAssertEqual(try st.floats("model.layers.0.self_attn.v_proj.weight"), w["model.layers.0.self_attn.v_proj.weight"])
    }

    func testPEFTExport() throws {
        let (dir, _) = try model(adapter: (r: 2, alpha: 4, rslora: false))
        let out = root.appendingPathComponent("peft")
        let result = try exporter.export(.directory(dir), to: out, options: ExportOptions(format: .peft, baseModelNameOrPath: "org/tiny"))
        XCTAssertEqual(Set(result.files.keys), ["adapter_config.json", "adapter_model.safetensors", "README.md"])
        let cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("adapter_config.json"))) as! [String: Any]
        XCTAssertEqual(cfg["base_model_name_or_path"] as? String, "org/tiny")
        XCTAssertEqual(cfg["task_type"] as? String, "CAUSAL_LM")
        XCTAssertEqual(cfg["bias"] as? String, "none")
        let card = try String(contentsOf: out.appendingPathComponent("README.md"), encoding: .utf8)
        XCTAssertTrue(card.contains("library_name: peft"))
        XCTAssertTrue(card.contains("base_model: \"org/tiny\""))
    }

    // MARK: - gguf

    func testGGUFExportMetadataTensorsAndPermutation() throws {
        let (dir, w) = try model()
        let out = root.appendingPathComponent("m.gguf")
        let result = try exporter.export(.directory(dir), to: out, options: ExportOptions(format: .gguf, quantization: .q8_0))
        XCTAssertEqual(result.tensorTypes, ["F32": 3, "Q8_0": 9])
        let g = try ParsedGGUF(Data(contentsOf: out))
        XCTAssertEqual(g.value("general.architecture"), .string("llama"))
        XCTAssertEqual(g.value("general.file_type"), .uint32(7))
        XCTAssertEqual(g.value("general.quantization_version"), .uint32(2))
        XCTAssertEqual(g.value("llama.embedding_length"), .uint32(32))
        XCTAssertEqual(g.value("llama.attention.head_count_kv"), .uint32(1))
        XCTAssertEqual(g.value("llama.rope.dimension_count"), .uint32(16))
        XCTAssertEqual(g.value("tokenizer.ggml.model"), .string("gpt2"))
        XCTAssertEqual(g.value("tokenizer.ggml.pre"), .string("gpt-2"))
        XCTAssertEqual(g.value("tokenizer.ggml.tokens"), .strings(["<|endoftext|>", "<|pad|>", "a", "b", "ab", "Ġ", "[PAD6]", "[PAD7]"]))
        XCTAssertEqual(g.value("tokenizer.ggml.token_type"), .int32s([3, 3, 1, 1, 1, 1, 5, 5]))
        XCTAssertEqual(g.value("tokenizer.ggml.merges"), .strings(["a b"]))
        XCTAssertEqual(g.value("tokenizer.ggml.eos_token_id"), .uint32(0))
        XCTAssertEqual(g.value("tokenizer.ggml.padding_token_id"), .uint32(1))
        XCTAssertEqual(g.tensors.map(\.name), ["token_embd.weight", "blk.0.attn_norm.weight", "blk.0.attn_q.weight", "blk.0.attn_k.weight",
                                               "blk.0.attn_v.weight", "blk.0.attn_output.weight", "blk.0.ffn_norm.weight", "blk.0.ffn_gate.weight",
                                               "blk.0.ffn_up.weight", "blk.0.ffn_down.weight", "output_norm.weight", "output.weight"])
        XCTAssertEqual(g.tensors[9].dims, [64, 32])  // ffn_down [32, 64] stored innermost first
        XCTAssertEqual(g.tensors[1].type, 0)          // norms stay F32
        XCTAssertTrue(g.tensors.allSatisfy { $0.offset % 32 == 0 })
        // attn_k (1 KV head, HD 16): GGUF row 1 is HF row 8 (permutation), quantised as block 0 of that row.
        let k = w["model.layers.0.self_attn.k_proj.weight"]!
        let row1 = g.data(of: "blk.0.attn_k.weight", count: 34 * 2)!.suffix(34)
        var expected: [UInt8] = []
        Array(k[(8 * 32)..<(9 * 32)]).withUnsafeBufferPointer { ggmlEncode($0, as: .q8_0, into: &expected) }
        XCTAssertEqual(Array(row1), expected)
    }

    func testGGUFQ4_0KeepsTheHeadAtQ8_0AndF16ExportIsMostlyF16() throws {
        let (dir, _) = try model()
        let q4 = try exporter.export(.directory(dir), to: root.appendingPathComponent("q4.gguf"), options: ExportOptions(format: .gguf, quantization: .q4_0))
        XCTAssertEqual(q4.tensorTypes, ["F32": 3, "Q4_0": 8, "Q8_0": 1])
        let g = try ParsedGGUF(Data(contentsOf: root.appendingPathComponent("q4.gguf")))
        XCTAssertEqual(g.value("general.file_type"), .uint32(2))
        XCTAssertEqual(g.tensors.first { $0.name == "output.weight" }?.type, 8)
        let f16 = try exporter.export(.directory(dir), to: root.appendingPathComponent("f16.gguf"), options: ExportOptions(format: .gguf, dtype: .f16))
        XCTAssertEqual(f16.tensorTypes, ["F32": 3, "F16": 9])
        XCTAssertNil(try ParsedGGUF(Data(contentsOf: root.appendingPathComponent("f16.gguf"))).value("general.quantization_version"))
    }

    func testTiedModelHasNoOutputTensor() throws {
        let (dir, _) = try model(config: TinyModel.config(tied: true))
        let out = root.appendingPathComponent("tied.gguf")
        _ = try exporter.export(.directory(dir), to: out, options: ExportOptions(format: .gguf, quantization: .q4_0))
        let g = try ParsedGGUF(Data(contentsOf: out))
        XCTAssertFalse(g.tensors.contains { $0.name == "output.weight" })
        XCTAssertEqual(g.tensors.first { $0.name == "token_embd.weight" }?.type, 8)  // the head's precision
    }

    // MARK: - import-hf

    func testImportHFConvertsBF16ToF32Exactly() throws {
        let (dir, w) = try model(dtype: .bf16)
        let out = root.appendingPathComponent("imported")
        let result = try exporter.importHF(from: dir, to: out)
        XCTAssertEqual(result.tensorTypes, ["BF16": 12])
        let st = try SafeTensorsFile.read(contentsOf: out.appendingPathComponent("model.safetensors"))
        XCTAssertTrue(st.entries.allSatisfy { $0.dtype == .f32 })
        let name = "model.embed_tokens.weight"
        XCTAssertEqual(try st.floats(name), w[name]!.map { bfloat16BitsToFloat(floatToBFloat16Bits($0)) })
        XCTAssertNoThrow(try LlamaConfig.load(contentsOf: out.appendingPathComponent("config.json")))
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("README.md").path))
    }

    // MARK: - Errors

    func testNotAModel() throws {
        let empty = root.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        XCTAssertThrowsError(try exporter.export(.directory(empty), to: root.appendingPathComponent("o"), options: ExportOptions(format: .hf))) { error in
            guard case .notAModel(_, let detail)? = error as? ExportError else { return XCTFail("\(error)") }
            XCTAssertTrue(detail.contains("config.json"))
        }
        XCTAssertThrowsError(try exporter.export(.directory(root.appendingPathComponent("missing")), to: root.appendingPathComponent("o"), options: ExportOptions(format: .hf)))
        XCTAssertFalse(FileManager.default.fileExists(atPath: root.appendingPathComponent("o").path))
    }

    func testExistingOutputIsNotOverwrittenWithoutForce() throws {
        let (dir, _) = try model()
        let out = root.appendingPathComponent("x.gguf")
        try Data("keep me".utf8).write(to: out)
        XCTAssertThrowsError(try exporter.export(.directory(dir), to: out, options: ExportOptions(format: .gguf))) { error in
            XCTAssertEqual(error as? ExportError, .outputExists(path: out.path))
        }
        XCTAssertEqual(try String(contentsOf: out, encoding: .utf8), "keep me")
        _ = try exporter.export(.directory(dir), to: out, options: ExportOptions(format: .gguf, force: true))
        XCTAssertEqual(try ParsedGGUF(Data(contentsOf: out)).version, 3)
        XCTAssertEqual(try leftovers(), [])
    }

    func testRowLengthNotMultipleOf32LeavesNothingBehind() throws {
        let (dir, _) = try model(config: TinyModel.config(hidden: 48, intermediate: 64))
        let out = root.appendingPathComponent("odd.gguf")
        XCTAssertThrowsError(try exporter.export(.directory(dir), to: out, options: ExportOptions(format: .gguf, quantization: .q4_0))) { error in
            guard case .rowLengthNotQuantizable(let tensor, 48, "Q4_0", 32)? = error as? ExportError else { return XCTFail("\(error)") }
            XCTAssertEqual(tensor, "token_embd.weight")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path))
        XCTAssertEqual(try leftovers(), [])
        let r = try exporter.export(.directory(dir), to: out, options: ExportOptions(format: .gguf, quantization: .q4_0, allowF16Fallback: true))
        XCTAssertEqual(r.tensorTypes["F16"], 8)       // every 2-D tensor but ffn_down (rows of 64)
        XCTAssertEqual(r.tensorTypes["Q4_0"], 1)
    }

    func testOptionAndAdapterErrors() throws {
        let (lora, _) = try model("lora", adapter: (r: 2, alpha: 4, rslora: false))
        let (plain, _) = try model("plain")
        let out = root.appendingPathComponent("o")
        XCTAssertThrowsError(try exporter.export(.directory(lora), to: out, options: ExportOptions(format: .hf))) { error in
            XCTAssertEqual(error as? ExportError, .adapterRequiresMerge(path: lora.path))
        }
        XCTAssertThrowsError(try exporter.export(.directory(plain), to: out, options: ExportOptions(format: .peft)))
        XCTAssertThrowsError(try exporter.export(.directory(plain), to: out, options: ExportOptions(format: .hf, merge: true)))
        XCTAssertThrowsError(try exporter.export(.directory(plain), to: out, options: ExportOptions(format: .hf, quantization: .q8_0)))
        XCTAssertThrowsError(try exporter.export(.directory(plain), to: out, options: ExportOptions(format: .gguf, dtype: .f16, quantization: .q8_0)))
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path))
    }

    func testMisshapenTensorAndOversizedTokenizer() throws {
        let (dir, _) = try model()
        var cfg = TinyModel.config()
        cfg.intermediateSize = 96
        try cfg.write(to: dir.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try ModelDirectory.read(dir)) { error in
            guard case .invalidModel(_, let detail)? = error as? ExportError else { return XCTFail("\(error)") }
            XCTAssertTrue(detail.contains("mlp.gate_proj"), detail)
        }
        let (small, _) = try model("small", config: LlamaConfig(vocabSize: 4, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 1, numAttentionHeads: 2))
        XCTAssertThrowsError(try ModelDirectory.read(small)) { error in
            guard case .invalidTokenizer? = error as? ExportError else { return XCTFail("\(error)") }
        }
    }

    func testModelReferenceParsing() throws {
        XCTAssertEqual(ModelReference.parse(root.path), .directory(URL(fileURLWithPath: root.path)))
        let digest = String(repeating: "ab", count: 32)
        XCTAssertEqual(ModelReference.parse("sha256:" + digest), .digest(digest))
        XCTAssertEqual(ModelReference.parse("pipelines/tiny.yaml:ppo"), .pipelineStage(pipeline: "pipelines/tiny.yaml", stage: "ppo"))
        XCTAssertThrowsError(try DirectoryModelResolver().resolve(.digest(digest)))
    }
}
