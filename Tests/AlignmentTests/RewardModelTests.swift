import Alignment
import Foundation
import Llama
import Logging
import Tensors
import Training
import XCTest

/// A tiny Llama (vocab 16, C 16, 2 layers); pad 2, EOS 1, BOS 0 as the project's tokenizer.
func tinyConfig(vocab: Int = 16, ctx: Int = 64) -> LlamaConfig {
    LlamaConfig(vocabSize: vocab, hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 2, numAttentionHeads: 2,
                maxPositionEmbeddings: ctx, bosTokenId: 0, eosTokenId: 1, padTokenId: 2, initializerRange: 0.2)
}

func tempDir(_ name: String) -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("rlhf-alignment-\(name)-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

final class RewardModelTests: XCTestCase {
    func makeModel(seed: UInt64 = 3) throws -> RewardModel {
        RewardModel(backbone: try LlamaModel(config: tinyConfig(), seed: seed), seed: seed)
    }

    func testPaddingAfterResponseDoesNotChangeItsReward() throws {
        let rm = try makeModel()
        let a: [Int32] = [0, 5, 6, 7, 1]
        let alone = rm.forward([a])[0]
        let padded = rm.forward([a, [0, 5, 6, 7, 8, 9, 10, 11, 12, 1]])[0]
        XCTAssertEqual(alone, padded, accuracy: 1e-6)
    }

    func testScoreIsReadAtTheEOSTokenNotAtAPad() throws {
        let rm = try makeModel()
        let a: [Int32] = [0, 5, 6, 1]
        let s = rm.forward([a, [0, 5, 6, 7, 8, 9, 1]])[0]
        // Hidden states of the same padded batch, read directly: row 0 column 3 (the EOS) vs column 5 (a pad).
        var tokens: [Int32] = a + [2, 2, 2], mask: [UInt8] = [1, 1, 1, 1, 0, 0, 0]
        tokens += [0, 5, 6, 7, 8, 9, 1]; mask += [1, 1, 1, 1, 1, 1, 1]
        let out = rm.backbone.forward(LlamaInput(tokens: tokens, batch: 2, seqLen: 7, attentionMask: mask), computeLogits: false)
        func dot(_ row: Int) -> Float { (0..<16).reduce(0) { $0 + out.hidden[row * 16 + $1] * rm.score.value[$1] } }
        XCTAssertEqual(s, dot(3), accuracy: 1e-6)
        XCTAssertGreaterThan(abs(s - dot(5)), 1e-4, "reading at a pad would give another value")
    }

    func pairs() -> [TokenizedComparison] {
        [([0, 5, 6, 1], [0, 5, 7, 8, 1]), ([0, 9, 1], [0, 9, 10, 11, 12, 1]), ([0, 4, 4, 4, 1], [0, 3, 1]), ([0, 13, 14, 1], [0, 13, 15, 1])]
            .enumerated().map { TokenizedComparison(id: "p\($0.offset)", chosen: $0.element.0, rejected: $0.element.1,
                                                    chosenResponseLength: $0.element.0.count - 1, rejectedResponseLength: $0.element.1.count - 1) }
    }

    func testBatchLossIsTheMeanOfPerPairLossesAtBatchSizes1And4() throws {
        let rm = try makeModel()
        let trainer = RewardModelTrainer(model: rm, config: RewardConfig(), logger: Logger(label: "test"))
        let ps = pairs()
        trainer.zeroGradients()
        let (batch, _) = try trainer.lossAndGradients(ps)
        let batchGrad = rm.score.grad.toArray()
        var single: [Float] = [], gradSum = [Float](repeating: 0, count: 16)
        for p in ps {
            trainer.zeroGradients()
            let (l, _) = try trainer.lossAndGradients([p])
            XCTAssertEqual(l.pairLosses.count, 1)
            single.append(l.loss)
            for (i, g) in rm.score.grad.toArray().enumerated() { gradSum[i] += g / Float(ps.count) }
        }
        XCTAssertEqual(batch.loss, single.reduce(0, +) / 4, accuracy: 1e-5)
        assertClose(batch.pairLosses, single, tol: 1e-5, "per-pair losses")
        assertClose(batchGrad, gradSum, tol: 1e-4, "score.weight gradient")
    }

    func testGradientsThroughTheHeadMatchFiniteDifferences() throws {
        let rm = try makeModel()
        let trainer = RewardModelTrainer(model: rm, config: RewardConfig(), logger: Logger(label: "test"))
        let ps = Array(pairs().prefix(2))
        func loss() throws -> Double {
            let raw = rm.forward(ps.map(\.chosen) + ps.map(\.rejected))
            return Double(try bradleyTerryLoss(chosen: Array(raw[..<2]), rejected: Array(raw[2...])).loss)
        }
        trainer.zeroGradients()
        _ = try trainer.lossAndGradients(ps)
        for p in [rm.score, rm.backbone.norm, rm.backbone.layers[1].downProj.weight] {
            let analytic = p.grad.toArray()
            for i in stride(from: 0, to: p.count, by: Swift.max(1, p.count / 6)) {
                let x = p.value[i]
                p.value[i] = x + 1e-2; let lp = try loss()
                p.value[i] = x - 1e-2; let lm = try loss()
                p.value[i] = x
                let fd = (lp - lm) / 2e-2
                XCTAssertEqual(Double(analytic[i]), fd, accuracy: 2e-3 + 2e-2 * abs(fd), "\(p.name)[\(i)]")
            }
        }
    }

    func testSaveAndReloadScoresIdentically() throws {
        let rm = try makeModel()
        try rm.fitNormalization(on: pairs().map(\.chosen) + pairs().map(\.rejected))
        XCTAssertNotEqual(rm.normalization, .identity)
        let dir = tempDir("rm-save")
        defer { try? FileManager.default.removeItem(at: dir) }
        try rm.save(directory: dir, tokenizerDirectory: nil)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("config.json"))) as? [String: Any]
        XCTAssertEqual(config?["architectures"] as? [String], ["LlamaForSequenceClassification"])
        XCTAssertEqual(config?["num_labels"] as? Int, 1)
        XCTAssertTrue(RewardModel.isRewardModelDirectory(dir))
        let back = try RewardModel.load(directory: dir)
        let seqs = pairs().map(\.chosen)
        XCTAssertEqual(back.scores(seqs), rm.scores(seqs))
        XCTAssertEqual(back.normalization, rm.normalization)
    }

    func testNormalizationGivesMeanZeroStdOneOnItsSamples() throws {
        let rm = try makeModel()
        let seqs = pairs().map(\.chosen) + pairs().map(\.rejected)
        try rm.fitNormalization(on: seqs)
        var m = RunningMoments()
        m.update(rm.scores(seqs))
        XCTAssertEqual(m.mean, 0, accuracy: 1e-5)
        XCTAssertEqual(m.std, 1, accuracy: 1e-4)
    }

    func testTrainingLearnsAToyPreference() throws {
        // Chosen responses end with token 5, rejected ones with token 6.
        var data: [TokenizedComparison] = []
        for i in 0..<16 {
            let p: [Int32] = [0, Int32(7 + i % 8)]
            data.append(TokenizedComparison(id: "\(i)", chosen: p + [5, 1], rejected: p + [6, 1], chosenResponseLength: 2, rejectedResponseLength: 2))
        }
        let rm = try makeModel()
        var config = RewardConfig()
        config.learningRate = 3e-3
        config.perDeviceTrainBatchSize = 4
        let trainer = RewardModelTrainer(model: rm, config: config, logger: Logger(label: "test"))
        let before = try trainer.evaluate(data).loss
        try trainer.train(data, maxSteps: 30) { _, m in XCTAssertNotNil(m["loss"]); return true }
        let after = try trainer.evaluate(data)
        XCTAssertLessThan(after.loss, before)
        XCTAssertEqual(after.metrics.accuracy, 1)
    }

    func testContextFittingKeepsTheEndOfThePromptAndRejectsTooLongPrompts() throws {
        XCTAssertEqual(try fitToContext(prompt: [0, 5, 6, 7], response: [8, 9, 1], maxLength: 5, item: "x").tokens, [6, 7, 8, 9, 1])
        XCTAssertEqual(try fitToContext(prompt: [0, 5], response: [8, 9, 1], maxLength: 3, item: "x").tokens, [5, 8, 9])
        XCTAssertEqual(try fitToContext(prompt: [0, 5], response: [8, 1], maxLength: 8, item: "x").tokens, [0, 5, 8, 1])
        XCTAssertThrowsError(try fitToContext(prompt: [0, 5, 6, 7], response: [1], maxLength: 4, item: "comparison 9")) { e in
            XCTAssertEqual(e as? TrainerError, .promptTooLong(item: "comparison 9", tokens: 4, maxLength: 4))
        }
    }

    func testPairFittingKeepsTheSamePromptForBothResponses() throws {
        // Both fit: nothing is cut.
        let all = try fitPairToContext(prompt: [0, 5, 6, 7], chosen: [8, 1], rejected: [9, 1], maxLength: 8, item: "x")
        XCTAssertEqual(all.chosen, [0, 5, 6, 7, 8, 1]); XCTAssertEqual(all.rejected, [0, 5, 6, 7, 9, 1]); XCTAssertEqual(all.promptTokens, 4)
        // The prompt is cut for the longer response; the shorter one keeps its EOS and its length.
        let cut = try fitPairToContext(prompt: [0, 5, 6, 7], chosen: [8, 1], rejected: [9, 9, 9, 1], maxLength: 6, item: "x")
        XCTAssertEqual(cut.chosen, [6, 7, 8, 1]); XCTAssertEqual(cut.rejected, [6, 7, 9, 9, 9, 1]); XCTAssertEqual(cut.promptTokens, 2)
        // A response longer than the context alone loses its end; one prompt token stays.
        let long = try fitPairToContext(prompt: [0, 5], chosen: [8, 8, 8, 8, 1], rejected: [9, 1], maxLength: 4, item: "x")
        XCTAssertEqual(long.chosen, [5, 8, 8, 8]); XCTAssertEqual(long.rejected, [5, 9, 1]); XCTAssertEqual(long.promptTokens, 1)
        XCTAssertThrowsError(try fitPairToContext(prompt: [0, 5, 6, 7], chosen: [1], rejected: [1], maxLength: 4, item: "comparison 3")) { e in
            XCTAssertEqual(e as? TrainerError, .promptTooLong(item: "comparison 3", tokens: 4, maxLength: 4))
        }
    }

    func testLengthBaselineAndSplit() {
        let ps = pairs()
        // Shorter chosen in pairs 0, 1, 3 (4 < 5, 2 < 5, 3 == 3 -> 0.5); pair 2 longer: (1 + 1 + 0 + 0.5) / 4.
        XCTAssertEqual(lengthBaselineAccuracy(ps), 2.5 / 4)
        let s = trainEvalSplit(count: 10, evalFraction: 0.2, seed: 1)
        XCTAssertEqual(s.eval.count, 2)
        XCTAssertEqual(Set(s.train + s.eval), Set(0..<10))
        XCTAssertEqual(trainEvalSplit(count: 10, evalFraction: 0.2, seed: 1).eval, s.eval)
    }
}
