import Foundation
import Llama
import Tokenization
import XCTest
@testable import Retrieval

/// A byte-level BPE trained on the fixture knowledge base and questions (vocab 384), and a tiny model for it.
private func tinyModelAndTokenizer(context: Int = 256, seed: UInt64 = 1) throws -> (LlamaModel, BPETokenizer) {
    let texts = try [Fixtures.url("elements_kb_slice", "jsonl"), Fixtures.url("elements_qa_slice", "jsonl")]
        .map { String(decoding: try Data(contentsOf: $0), as: UTF8.self) }
    let tokenizer = try BPETokenizer.train(texts: texts, vocabSize: 384, logger: nil)
    let config = LlamaConfig(
        vocabSize: tokenizer.vocabSize, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2, numAttentionHeads: 2,
        maxPositionEmbeddings: context, tieWordEmbeddings: true, bosTokenId: tokenizer.bosTokenId.map(Int.init),
        eosTokenId: tokenizer.eosTokenId.map(Int.init), padTokenId: tokenizer.padTokenId.map(Int.init))
    return (try LlamaModel(config: config, seed: seed), tokenizer)
}

final class RAGFineTuningTests: XCTestCase {
    func testEncodeLabelsOnlyTheAnswerAndEOSAndCutsThePromptFromTheLeft() throws {
        let (model, tokenizer) = try tinyModelAndTokenizer(context: 64)
        let tuner = try RAGFineTuner(model: model, tokenizer: tokenizer, template: RAGPromptTemplate(),
                                     config: RAGFineTuningConfig(maxLength: 64), logger: silentLogger)
        let passage = RetrievedChunk(chunkID: 1, documentID: "hydrogen", title: "Hydrogen", chunkIndex: 0,
                                     text: String(repeating: "Hydrogen is the lightest element. ", count: 20), score: -1)
        let prompt = RAGPromptTemplate().prompt(question: "What is the chemical symbol of Hydrogen?", passages: [passage])
        let example = RAGTrainingExample(id: "q", kind: .retrieved, prompt: prompt, answer: "H", passages: ["hydrogen#0"], containsAnswer: true)
        let encoded = tuner.encode(example)
        XCTAssertEqual(encoded.inputIDs.count, 64)
        XCTAssertTrue(encoded.truncated)
        XCTAssertEqual(encoded.inputIDs.first, tokenizer.bosTokenId)
        let answerIDs = tokenizer.encode(" H") + [tokenizer.eosTokenId!]
        XCTAssertEqual(Array(encoded.labels.suffix(answerIDs.count)), answerIDs)
        XCTAssertEqual(Array(encoded.inputIDs.suffix(answerIDs.count)), answerIDs)
        XCTAssertTrue(encoded.labels.dropLast(answerIDs.count).allSatisfy { $0 == -100 })
        // The question survives the cut: the tokens before the answer decode to the prompt's end.
        let promptPart = Array(encoded.inputIDs.dropFirst().dropLast(answerIDs.count))
        XCTAssertTrue(tokenizer.decode(promptPart).hasSuffix("Question: What is the chemical symbol of Hydrogen?\nAnswer:"))
    }

    func testGreedyBatchedLeftPaddedDecodingMatchesOneSequenceAtATime() throws {
        let (model, tokenizer) = try tinyModelAndTokenizer(seed: 7)
        let prompts = ["Question: What is the atomic number of Helium?\nAnswer:", "Hydrogen\nAnswer:",
                       "Passage [1] (Lithium): Lithium is a soft metal.\nQuestion: What is Lithium?\nAnswer:"]
        let decoder = GreedyDecoder(model: model, tokenizer: tokenizer, maxNewTokens: 6, stopAtNewline: false)
        let batched = decoder.generate(prompts)
        let single = prompts.map { decoder.generate([$0])[0] }
        XCTAssertEqual(batched, single)
        // Reference for the first prompt: arg-max of an unpadded forward, token by token.
        var ids = GreedyDecoder.promptTokens(prompts[0], tokenizer: tokenizer, maxLength: 250)
        var out: [Int32] = []
        for _ in 0..<6 {
            let logits = model.forward(LlamaInput(tokens: ids, batch: 1, seqLen: ids.count)).logits!
            let row = (0..<model.config.vocabSize).map { logits.data[(ids.count - 1) * model.config.vocabSize + $0] }
            let next = Int32(row.indices.max { row[$0] < row[$1] }!)
            if next == tokenizer.eosTokenId { break }
            out.append(next)
            ids.append(next)
        }
        XCTAssertEqual(batched[0], tokenizer.decode(out, skipSpecial: true))
    }

    func testFineTuningLowersTheAnswerLossAndIsSeeded() throws {
        let index = try buildElementsIndex(self, chunkSize: 24, overlap: 4)
        let questions = try QADataset.load(contentsOf: try Fixtures.url("elements_qa_slice", "jsonl"))
        func run() throws -> (RAGFineTuningSummary, [Float]) {
            let (model, tokenizer) = try tinyModelAndTokenizer()
            let config = RAGFineTuningConfig(steps: 40, batchSize: 8, learningRate: 3e-3, warmupSteps: 5, maxLength: 256, seed: 3)
            let tuner = try RAGFineTuner(model: model, tokenizer: tokenizer, template: RAGPromptTemplate(), config: config, logger: silentLogger)
            var names = Set<String>()
            let summary = try tuner.train(makeEpoch: { epoch in
                try RADITExampleBuilder(retriever: index, topK: 2, searchDepth: 10, seed: UInt64(epoch)).build(questions)
            }, log: { _, values in values.forEach { names.insert($0.0) } })
            XCTAssertEqual(names, ["loss", "learning_rate", "grad_norm"])
            return (summary, Array(UnsafeBufferPointer(start: model.embedTokens.value.data, count: 64)))
        }
        let (first, weights1) = try run()
        XCTAssertEqual(first.steps, 40)
        XCTAssertLessThan(first.finalLoss, first.initialLoss * 0.75, "answer loss should fall: \(first)")
        let (second, weights2) = try run()
        XCTAssertEqual(first, second)
        XCTAssertEqual(weights1, weights2)
    }

    func testAnIndexChunkedWithAnotherTokenizerIsRejected() throws {
        let (model, tokenizer) = try tinyModelAndTokenizer()
        let index = try buildElementsIndex(self)
        XCTAssertThrowsError(try RAGModel(model: model, tokenizer: tokenizer, index: index)) { error in
            guard case .tokenizerMismatch? = error as? RetrievalError else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains("rebuild the index"))
        }
        let matching = try buildElementsIndex(self, tokenizer: RAGModel.chunkTokenizer(tokenizer))
        let rag = try RAGModel(model: model, tokenizer: tokenizer, index: matching)
        let evaluation = try rag.evaluate(Array(try QADataset.load(contentsOf: try Fixtures.url("elements_qa_slice", "jsonl")).prefix(4)),
                                          mode: .openBook, topK: 2, maxNewTokens: 3)
        XCTAssertEqual(evaluation.result.n, 4)
        XCTAssertEqual(evaluation.predictions.map(\.passages.count), [2, 2, 2, 2])
    }
}
