import Export
import Foundation
import Llama
import Pipeline
import Stages
import XCTest

/// The `export` stage in a real pipeline: formats, layout, lineage card from the store, metrics, cache.
final class ExportStageTests: XCTestCase {
    /// A pipeline whose `base` stage copies a tiny model directory (a `command` stage) and exports it.
    func pipeline(formats: String, extra: String = "") -> String {
        """
        name: export-test
        seed: 3
        stages:
          base:
            kind: command
            params: {run: "cp -R model/. \\"$RLHF_OUTPUT_DIR\\"/", deps: [model]}
          export:
            kind: export
            needs: [base]
            params: {formats: \(formats)\(extra)}
        """
    }

    func testExportWritesEachFormatWithLineageCardAndMetricsAndIsCached() async throws {
        let sandbox = try StageSandbox()
        let model = sandbox.root.appendingPathComponent("model")
        try TinyModel.write(to: model)
        let yaml = pipeline(formats: "[hf, gguf]", extra: ", quant: q8_0")
        let first = try await sandbox.run(yaml)
        let export = try XCTUnwrap(first["export"])
        XCTAssertEqual(export.state, .succeeded, export.error ?? "")
        let out = URL(fileURLWithPath: try XCTUnwrap(export.path))
        let fm = FileManager.default
        for file in ["hf/config.json", "hf/model.safetensors", "hf/tokenizer.json", "hf/README.md", "README.md", "lineage.json"] {
            XCTAssertTrue(fm.fileExists(atPath: out.appendingPathComponent(file).path), file)
        }
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: out.appendingPathComponent("gguf").path), ["model-q8_0.gguf"])
        XCTAssertFalse(fm.fileExists(atPath: out.appendingPathComponent("peft").path))

        // GGUF v3 header.
        let gguf = try Data(contentsOf: out.appendingPathComponent("gguf/model-q8_0.gguf"))
        XCTAssertEqual(Array(gguf.prefix(4)), Array("GGUF".utf8))
        XCTAssertEqual(gguf[4], 3)

        // Metrics: file size and the parameter count of the config (untied head, GQA 4/2 heads of 8).
        let config = try LlamaConfig.load(contentsOf: model.appendingPathComponent("config.json"))
        let h = 32, kv = 16, i = 64, v = config.vocabSize
        let expected = 2 * v * h + 2 * (h * h + 2 * h * kv + h * h + 3 * h * i + 2 * h) + h
        XCTAssertEqual(export.metrics["export/parameters"], Double(expected))
        XCTAssertEqual(export.metrics["export/gguf_bytes"], Double(gguf.count))
        XCTAssertNotNil(export.metrics["export/hf_bytes"])
        XCTAssertEqual(export.headline, ["export/parameters", "export/gguf_bytes"])

        // Lineage from the store: the base stage, its parameters, artifact and the digest of the data it read.
        let lineage = try JSONDecoder().decode(ModelLineage.self, from: Data(contentsOf: out.appendingPathComponent("lineage.json")))
        XCTAssertEqual(lineage.pipeline, "export-test")
        XCTAssertEqual(lineage.stages.map(\.name), ["base"])
        XCTAssertEqual(lineage.stages[0].kind, "command@1")
        XCTAssertEqual(lineage.stages[0].artifactDigest, first["base"]?.artifact)
        XCTAssertEqual(lineage.stages[0].parameters["run"], "cp -R model/. \"$RLHF_OUTPUT_DIR\"/")
        XCTAssertEqual(lineage.stages[0].parameters["seed"], "3")
        XCTAssertEqual(Array(lineage.dataDigests.values), [try ContentDigest.of(model)])
        let card = try String(contentsOf: out.appendingPathComponent("hf/README.md"), encoding: .utf8)
        XCTAssertTrue(card.contains("| base | command@1 | `\(try XCTUnwrap(first["base"]?.artifact).prefix(16))` |"), card)
        XCTAssertEqual(try String(contentsOf: out.appendingPathComponent("README.md"), encoding: .utf8), card)

        // Deterministic and cacheable: the second run is served from the cache.
        let second = try await sandbox.run(yaml)
        XCTAssertEqual(second["export"]?.state, .cached)
        XCTAssertEqual(second["export"]?.artifact, export.artifact)
    }

    func testBadParametersAndMissingAdapterFailWithClearErrors() async throws {
        let sandbox = try StageSandbox()
        try TinyModel.write(to: sandbox.root.appendingPathComponent("model"))
        let unknown = try await sandbox.run(pipeline(formats: "[hf, onnx]"))
        XCTAssertEqual(unknown["export"]?.state, .failed)
        XCTAssertTrue(unknown["export"]?.error?.contains("unknown format 'onnx'; use hf, peft or gguf") == true, unknown["export"]?.error ?? "")

        let quant = try await sandbox.run(pipeline(formats: "[hf]", extra: ", quant: q4_0"))
        XCTAssertTrue(quant["export"]?.error?.contains("applies to gguf only") == true, quant["export"]?.error ?? "")

        let peft = try await sandbox.run(pipeline(formats: "[peft]"))
        XCTAssertEqual(peft["export"]?.state, .failed)
        XCTAssertTrue(peft["export"]?.error?.contains("adapter") == true, peft["export"]?.error ?? "")
        // Nothing half-written is stored: the only artifact is the base model.
        let store = try PipelineStore(workdir: sandbox.workdir)
        XCTAssertEqual(try store.artifacts().map(\.kind), ["command"])
    }

    func testLineageNotesARunThatMaxSecondsStoppedBeforeItsSteps() throws {
        func pretrain(globalStep: Double, cached: Bool) -> UpstreamStage {
            UpstreamStage(name: "pretrain", kind: "pretrain", version: "1", params: ["steps": .int(600), "seq_len": .int(256)],
                          seed: 1, artifact: "ab12", cached: cached, inputs: [],
                          metrics: ["eval_loss": 4.5, "global_step": globalStep], headline: ["eval_loss", "global_step"])
        }
        // Served from the cache: the metrics are those of the run that produced the artifact.
        let cut = ExportStage.modelLineage(StageLineage(pipeline: "p", file: "p.yaml", stages: [pretrain(globalStep: 137, cached: true)]))
        XCTAssertEqual(cut.stages.first?.note, "stopped at step 137 of 600 (max_seconds); the model has 137 optimizer steps")
        XCTAssertEqual(cut.metrics["pretrain/global_step"], 137)
        let config = LlamaConfig(vocabSize: 300, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2, numAttentionHeads: 4,
                                 maxPositionEmbeddings: 128)
        let card = ModelCard.markdown(name: "m", config: config, parameterCount: 1, format: "hf", dtype: "F32", lineage: cut)
        XCTAssertTrue(card.contains("Note on `pretrain`: stopped at step 137 of 600 (max_seconds)"), card)
        XCTAssertTrue(card.contains("| `pretrain/global_step` | 137 |"), card)
        let full = ExportStage.modelLineage(StageLineage(pipeline: "p", file: "p.yaml", stages: [pretrain(globalStep: 600, cached: false)]))
        XCTAssertNil(full.stages.first?.note)
    }
}
