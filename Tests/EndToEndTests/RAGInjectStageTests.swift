import Foundation
import Llama
import Logging
import Pipeline
import Retrieval
import Stages
import Tokenization
import XCTest

/// Runs the `rag-inject` kind on a tiny model and the repository's elements-rag data.
final class RAGInjectStageTests: XCTestCase {
    private var repository: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    func testRagInjectWritesTheTunedModelWithItsIndexAndReportsEveryMetric() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("rag-inject-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: root) }
        let data = repository.appendingPathComponent("pipelines/data/elements-rag")
        let kb = String(decoding: try Data(contentsOf: data.appendingPathComponent("kb.jsonl")), as: UTF8.self)
        let tokenizer = try BPETokenizer.train(texts: [kb], vocabSize: 320, logger: nil)
        let config = LlamaConfig(
            vocabSize: tokenizer.vocabSize, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 1, numAttentionHeads: 2,
            maxPositionEmbeddings: 192, tieWordEmbeddings: true, bosTokenId: tokenizer.bosTokenId.map(Int.init),
            eosTokenId: tokenizer.eosTokenId.map(Int.init), padTokenId: tokenizer.padTokenId.map(Int.init))
        let base = try LlamaModel(config: config, seed: 2)
        let input = root.appendingPathComponent("pretrain")
        try tokenizer.save(directory: input)
        try base.save(directory: input)
        let output = root.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)

        var values = Dictionary(uniqueKeysWithValues: RAGInjectStage.parameters.parameters.compactMap { spec in
            spec.defaultValue.map { (spec.name, $0) }
        })
        values["knowledge"] = .string(data.appendingPathComponent("kb.jsonl").path)
        values["train_questions"] = .string(data.appendingPathComponent("qa_shared.jsonl").path)
        values["steps"] = .int(6)
        values["batch_size"] = .int(4)
        values["top_k"] = .int(2)
        values["max_eval_questions"] = .int(6)
        values["max_new_tokens"] = .int(3)
        values["field_questions"] = .int(8)      // "What is the symbol of Helium?" etc. from the KB lines
        values["chunk_at_fields"] = .bool(true)
        let metrics = MetricsRecorder(headline: RAGInjectStage.headlineMetrics)
        let context = StageContext(
            stageName: "rag", runID: 1, params: ResolvedParameters(values, stage: "rag", baseDirectory: root), seed: 5,
            pipelineDirectory: root, inputs: ["pretrain": input], outputDirectory: output,
            checkpointDirectory: root.appendingPathComponent("ckpt"), snapshotDirectory: nil,
            logFile: root.appendingPathComponent("rag.log"), logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            metrics: metrics)
        let stage = RAGInjectStage()
        let run = expectation(description: "stage ran")
        var failure: Error?
        Task {
            do { try await stage.run(context) } catch { failure = error }
            run.fulfill()
        }
        wait(for: [run], timeout: 600)
        XCTAssertNil(failure)

        let last = metrics.last
        for name in ["loss", "learning_rate", "grad_norm", "eval/recall_at_k", "eval/recall_at_1", "eval/recall_at_3",
                     "eval/recall_at_5", "eval/base_closed_book_exact_match",
                     "eval/base_open_book_exact_match", "eval/base_closed_book_f1", "eval/base_open_book_f1",
                     "eval/closed_book_exact_match", "eval/open_book_exact_match", "eval/closed_book_f1", "eval/open_book_f1"] {
            XCTAssertNotNil(last[name], "missing metric \(name)")
        }
        XCTAssertGreaterThan(last["eval/recall_at_k"] ?? 0, 0.5)
        XCTAssertLessThanOrEqual(last["eval/recall_at_1"] ?? 2, last["eval/recall_at_3"] ?? -1)
        XCTAssertLessThanOrEqual(last["eval/recall_at_3"] ?? 2, last["eval/recall_at_5"] ?? -1)
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: output.appendingPathComponent("rag_inject.json"))) as? [String: Any]
        XCTAssertGreaterThan(report?["field_questions_available"] as? Int ?? 0, 100)
        // The index has a chunk per field: "Symbol: He" is a passage of its own.
        let index = try KnowledgeIndex(contentsOf: output.appendingPathComponent("knowledge/index.sqlite"))
        XCTAssertEqual(try index.search("Symbol He helium", topK: 1).first?.text, "Symbol: He")
        for file in ["config.json", "model.safetensors", "tokenizer.json", "knowledge/index.sqlite", "rag_inject.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: output.appendingPathComponent(file).path), file)
        }
        // The artifact is readable by `rlhf ask` / `rlhf rag eval` (index and model share the tokenizer), and tuned.
        let rag = try RAGModel.load(modelDirectory: output, knowledge: output)
        XCTAssertEqual(rag.index?.manifest.tokenizerFingerprint, tokenizer.fingerprint)
        let tuned = rag.model.embedTokens.value
        XCTAssertNotEqual(Array(UnsafeBufferPointer(start: tuned.data, count: tuned.count)),
                          Array(UnsafeBufferPointer(start: base.embedTokens.value.data, count: tuned.count)))
    }
}
