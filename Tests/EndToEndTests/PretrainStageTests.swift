import Foundation
import Logging
import Pipeline
import Stages
import XCTest

/// The `train-tokenizer` and `pretrain` stage kinds run through a `StageContext`, as the orchestrator runs them.
final class PretrainStageTests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("rlhf-stage-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    func context(_ stage: String, params: [String: ParameterValue], kind: any StageKind.Type, inputs: [String: URL] = [:],
                 checkpoint: String? = nil) throws -> (StageContext, MetricsRecorder) {
        var values = params
        for spec in kind.parameters.parameters where values[spec.name] == nil { values[spec.name] = spec.defaultValue }
        let out = root.appendingPathComponent("\(stage)-out-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let ckpt = root.appendingPathComponent(checkpoint ?? "\(stage)-ckpt")
        try FileManager.default.createDirectory(at: ckpt, withIntermediateDirectories: true)
        let metrics = MetricsRecorder(headline: kind.headlineMetrics)
        let ctx = StageContext(stageName: stage, runID: 1, params: ResolvedParameters(values, stage: stage, baseDirectory: root),
                               seed: 7, pipelineDirectory: root, inputs: inputs, outputDirectory: out, checkpointDirectory: ckpt,
                               snapshotDirectory: nil, logFile: root.appendingPathComponent("\(stage).log"),
                               logger: Logger(label: "test"), metrics: metrics)
        return (ctx, metrics)
    }

    func testTokenizerThenPretrainProduceAModelDirectoryAndResume() async throws {
        let words = ["alice", "rabbit", "queen", "garden", "tea", "hatter", "door", "key", "small", "curious"]
        var s: UInt64 = 99
        func word() -> String { s = s &* 6364136223846793005 &+ 1; return words[Int((s >> 33) % 10)] }
        let books = (0..<3).map { _ in (0..<1500).map { _ in word() }.joined(separator: " ") }
        try books.joined(separator: "\n\n\n\n").write(to: root.appendingPathComponent("corpus.txt"), atomically: true, encoding: .utf8)

        let (tctx, tmetrics) = try context("tokenizer", params: ["corpus": .list([.string("corpus.txt")]), "vocab_size": .int(300)],
                                           kind: TrainTokenizerStage.self)
        try await TrainTokenizerStage().run(tctx)
        XCTAssertEqual(tmetrics.last["vocab_size"], 300)
        XCTAssertTrue(FileManager.default.fileExists(atPath: tctx.outputDirectory.appendingPathComponent("tokenizer.json").path))

        let params: [String: ParameterValue] = [
            "corpus": .string("corpus.txt"), "validation_fraction": .float(0.34), "hidden_size": .int(32),
            "intermediate_size": .int(64), "num_hidden_layers": .int(1), "num_attention_heads": .int(2),
            "max_position_embeddings": .int(32), "steps": .int(20), "batch_size": .int(2), "seq_len": .int(32),
            "eval_interval": .int(10), "eval_batches": .int(2), "save_steps": .int(10), "logging_steps": .int(5),
        ]
        let (pctx, pmetrics) = try context("pretrain", params: params, kind: PretrainStage.self,
                                           inputs: ["tokenizer": tctx.outputDirectory], checkpoint: "shared-ckpt")
        try await PretrainStage().run(pctx)
        for f in ["config.json", "model.safetensors", "generation_config.json", "tokenizer.json", "tokenizer_config.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: pctx.outputDirectory.appendingPathComponent(f).path), f)
        }
        let points = pmetrics.drain()
        XCTAssertEqual(points.filter { $0.name == "eval_loss" }.map(\.step), [10, 20])
        XCTAssertNotNil(pmetrics.last["perplexity"])
        XCTAssertEqual(points.filter { $0.name == "loss" }.count, 4)
        // A second run with the same checkpoint directory (an interrupted stage re-run) reuses the cached
        // token files and the final checkpoint, and produces the same weights.
        let (again, _) = try context("pretrain", params: params, kind: PretrainStage.self,
                                     inputs: ["tokenizer": tctx.outputDirectory], checkpoint: "shared-ckpt")
        try await PretrainStage().run(again)
        XCTAssertEqual(try Data(contentsOf: again.outputDirectory.appendingPathComponent("model.safetensors")),
                       try Data(contentsOf: pctx.outputDirectory.appendingPathComponent("model.safetensors")))
        // Without a tokenizer in `needs`: a clear error.
        let (bad, _) = try context("pretrain", params: params, kind: PretrainStage.self)
        do { try await PretrainStage().run(bad); XCTFail("expected an error") } catch {
            XCTAssertTrue("\(error)".contains("train-tokenizer"), "\(error)")
        }
    }
}
