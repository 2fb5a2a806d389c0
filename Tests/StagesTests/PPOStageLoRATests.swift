import Alignment
import Export
import Foundation
import Llama
import Logging
import Pipeline
import Preferences
import SafeTensors
import Stages
import XCTest

/// The `ppo` stage with `lora:` on a tiny model, run directly on a comparison snapshot file (no
/// PostgreSQL needed: `run` reads the snapshot `resolveInputs` would have written).
final class PPOStageLoRATests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("rlhf-ppo-lora-\(UUID().uuidString)")
        try TinyModel.write(to: root.appendingPathComponent("policy"), seed: 3)
        let backbone = try LlamaModel.load(directory: root.appendingPathComponent("policy"))
        try RewardModel(backbone: backbone, seed: 5).save(directory: root.appendingPathComponent("rm"),
                                                          tokenizerDirectory: root.appendingPathComponent("policy"))
        // Prompts of different lengths (left padding in one batch).
        let prompts = ["What is the answer?", "The quick brown fox jumps over the lazy dog. What is the capital of France?",
                       "Please be kind.", "How to bake bread and be helpful to the dog and the fox?",
                       "Thank you for asking.", "The answer is forty two. Why?"]
        let pairs = prompts.enumerated().map { i, p in
            PreferencePair(comparisonId: Int64(i + 1), prompt: p, chosen: " The answer is forty two.", rejected: " No.", margin: nil)
        }
        let snap = root.appendingPathComponent("snapshot")
        try FileManager.default.createDirectory(at: snap, withIntermediateDirectories: true)
        try ComparisonSnapshot(dataset: "tiny", ties: .drop, pairs: pairs).write(to: snap.appendingPathComponent("comparisons.json"))
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    /// Runs the stage into `out` with the schema's defaults overridden by `overrides`.
    func runStage(_ out: String, _ overrides: [String: ParameterValue]) async throws -> (URL, [MetricPoint]) {
        var values: [String: ParameterValue] = [:]
        for spec in PPOStage.parameters.parameters { if let d = spec.defaultValue { values[spec.name] = d } }
        let base: [String: ParameterValue] = [
            "dataset": .string("tiny"), "batch_size": .int(4), "num_mini_batches": .int(1), "num_ppo_epochs": .int(1),
            "iterations": .int(3), "response_length": .int(6), "eval_prompts": .int(2), "learning_rate": .float(5e-2),
            "temperature": .float(0.7), "save_every": .int(0), "kl_coef": .float(0.05),
        ]
        for (k, v) in base { values[k] = v }
        for (k, v) in overrides { values[k] = v }
        let outDir = root.appendingPathComponent(out)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let metrics = MetricsRecorder()
        let context = StageContext(stageName: "ppo", runID: 1, params: ResolvedParameters(values, stage: "ppo", baseDirectory: root),
                                   seed: 11, pipelineDirectory: root,
                                   inputs: ["policy": root.appendingPathComponent("policy"), "rm": root.appendingPathComponent("rm")],
                                   outputDirectory: outDir, checkpointDirectory: root.appendingPathComponent(out + "-ckpt"),
                                   snapshotDirectory: root.appendingPathComponent("snapshot"),
                                   logFile: root.appendingPathComponent(out + ".log"), logger: logger, metrics: metrics)
        try await PPOStage().run(context)
        return (outDir, metrics.drain())
    }

    func value(_ m: [MetricPoint], _ name: String, step: Int) -> Double? {
        m.last { $0.name == name && $0.step == step }?.value
    }

    func testLoRAPPOKeepsTheBaseTrainsOnlyAdaptersAndMergesExactly() async throws {
        let (out, m) = try await runStage("lora", ["lora": .map([:])])

        // First iteration: the adapters start at B = 0, so policy = reference exactly.
        XCTAssertEqual(value(m, "objective/kl", step: 1), 0)
        XCTAssertEqual(value(m, "val/ratio", step: 1), 1)
        XCTAssertEqual(value(m, "eval/kl", step: 0), 0)
        // Later the adapters have moved the policy away from the reference (the base).
        let kl3 = try XCTUnwrap(value(m, "objective/kl", step: 3))
        XCTAssertNotEqual(kl3, 0)
        let loraCount: Double = 2 * 16 * (32 + 32 + 32 + 16)   // layers x r x (q in + q out + v in + v out)
        XCTAssertEqual(value(m, "lora/trainable_parameters", step: 3), loraCount)

        // The base weights in the artifact are the input's, bit for bit.
        let inFile = try SafeTensorsFile.read(contentsOf: root.appendingPathComponent("policy/model.safetensors"))
        let outFile = try SafeTensorsFile.read(contentsOf: out.appendingPathComponent("model.safetensors"))
        XCTAssertEqual(Set(inFile.names), Set(outFile.names))
        for name in inFile.names { XCTAssertEqual(try inFile.floats(name), try outFile.floats(name), name) }

        // The adapter: PEFT files, q_proj and v_proj of both layers, both matrices moved from their init.
        let adapterDir = out.appendingPathComponent("adapter")
        let cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: adapterDir.appendingPathComponent("adapter_config.json"))) as? [String: Any]
        XCTAssertEqual(cfg?["r"] as? Int, 16)
        XCTAssertEqual(cfg?["lora_alpha"] as? Double, 32)
        XCTAssertEqual(cfg?["lora_dropout"] as? Double, 0.1)
        XCTAssertEqual(cfg?["target_modules"] as? [String], ["q_proj", "v_proj"])
        XCTAssertEqual(cfg?["peft_type"] as? String, "LORA")
        let fresh = try LlamaModel.load(directory: root.appendingPathComponent("policy"))
        try fresh.applyLoRA(LoRAConfig(), seed: 11 &+ 7)   // the stage's adapter seed
        let adapterFile = try SafeTensorsFile.read(contentsOf: adapterDir.appendingPathComponent("adapter_model.safetensors"))
        XCTAssertEqual(adapterFile.names.count, 2 * 2 * 2)
        for p in fresh.loraParameters {
            XCTAssertNotEqual(try adapterFile.floats(p.name, shape: p.shape), Array(UnsafeBufferPointer(start: p.value.data, count: p.count)),
                              "\(p.name) did not change")
        }

        // Merge: logits of (base + adapter) equal those of the merged weights, and `merge: true` writes them.
        let adapted = try LlamaModel.load(directory: out)
        try adapted.loadLoRA(modelDirectory: out)
        let tokens: [Int32] = [0, 5, 9, 17, 33, 42, 7, 3]
        let input = LlamaInput(tokens: tokens + tokens.reversed(), batch: 2, seqLen: tokens.count)
        let a = Array(UnsafeBufferPointer(start: adapted.forward(input).logits!.data, count: 2 * tokens.count * adapted.config.vocabSize))
        let base = try LlamaModel.load(directory: out)
        let b0 = Array(UnsafeBufferPointer(start: base.forward(input).logits!.data, count: a.count))
        XCTAssertGreaterThan(zip(a, b0).map { abs($0 - $1) }.max() ?? 0, 1e-3, "the adapter changes the logits")

        let (mergedOut, _) = try await runStage("merged", ["lora": .map([:]), "merge": .bool(true)])
        XCTAssertFalse(FileManager.default.fileExists(atPath: mergedOut.appendingPathComponent("adapter").path))
        let mergedAdapter = try SafeTensorsFile.read(contentsOf: mergedOut.appendingPathComponent("merged_adapter/adapter_model.safetensors"))
        for name in adapterFile.names { XCTAssertEqual(try mergedAdapter.floats(name), try adapterFile.floats(name), "same seed, same run: \(name)") }
        let merged = try LlamaModel.load(directory: mergedOut)
        XCTAssertTrue(merged.loraAdapters.isEmpty)
        let mg = Array(UnsafeBufferPointer(start: merged.forward(input).logits!.data, count: a.count))
        let maxDiff = zip(a, mg).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThan(maxDiff, 1e-4, "merged logits = adapter logits")

        // The export stage's peft format takes either artifact.
        let exporter = ModelExporter(logger: Logger(label: "test"))
        for (dir, name) in [(out, "peft-a"), (mergedOut, "peft-b")] {
            let dest = root.appendingPathComponent(name)
            _ = try exporter.export(.directory(dir), to: dest, options: ExportOptions(format: .peft))
            let exported = try PEFTAdapter.read(directory: dest, base: merged.config)
            XCTAssertEqual(exported.pairs.count, 4)
            XCTAssertEqual(exported.config.baseModelNameOrPath, root.appendingPathComponent("policy").path)
        }
    }

    func testLoRAParameterErrorsNameTheKey() async throws {
        do {
            _ = try await runStage("bad", ["lora": .map(["rank": .int(8)])])
            XCTFail("an unknown key must be rejected")
        } catch let PipelineError.parameter(stage, name, message) {
            XCTAssertEqual(stage, "ppo"); XCTAssertEqual(name, "lora")
            XCTAssertTrue(message.contains("rank") && message.contains("lora_alpha"), message)
        }
        do {
            _ = try await runStage("bad2", ["lora": .map(["target_modules": .list([.string("qkv")])])])
            XCTFail("an unknown module must be rejected")
        } catch let PipelineError.parameter(_, name, message) {
            XCTAssertEqual(name, "lora")
            XCTAssertTrue(message.contains("qkv"), message)
        }
        do {
            _ = try await runStage("bad3", ["merge": .bool(true)])
            XCTFail("merge without lora must be rejected")
        } catch let PipelineError.parameter(_, name, _) {
            XCTAssertEqual(name, "merge")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: root.appendingPathComponent("bad/model.safetensors").path))
    }
}
