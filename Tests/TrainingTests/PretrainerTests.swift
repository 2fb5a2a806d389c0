import Foundation
import Llama
import Tensors
import XCTest
@testable import Training

/// The pretraining loop: loss goes down, exact in-process resume, non-finite stop, bad input.
final class PretrainerTests: XCTestCase {
    static let vocab = 61

    /// A token file of a repeating pattern with noise (learnable), plus a validation file.
    func makeData(_ dir: TestDirectory, tokens: Int = 6000, validationTokens: Int = 800) throws -> (TokenFileReader, TokenFileReader) {
        var rng = Xoshiro256(seed: 7)
        func seq(_ n: Int) -> [Int32] {
            (0..<n).map { i in rng.nextInt(below: 10) == 0 ? Int32(rng.nextInt(below: UInt64(Self.vocab))) : Int32((i * 7) % Self.vocab) }
        }
        let train = try TokenFileWriter(base: dir.path("train"), vocabSize: Self.vocab, tokenizerFingerprint: "test")
        try train.append(seq(tokens), id: "a")
        _ = try train.finish()
        let val = try TokenFileWriter(base: dir.path("validation"), vocabSize: Self.vocab, tokenizerFingerprint: "test")
        try val.append(seq(validationTokens), id: "b")
        _ = try val.finish()
        return (try TokenFileReader(base: dir.path("train")), try TokenFileReader(base: dir.path("validation")))
    }

    func modelConfig() -> LlamaConfig {
        LlamaConfig(vocabSize: Self.vocab, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2, numAttentionHeads: 4,
                    numKeyValueHeads: 2, maxPositionEmbeddings: 64)
    }

    func trainingConfig(steps: Int = 12) -> PretrainingConfig {
        PretrainingConfig(steps: steps, batchSize: 3, seqLen: 16, gradientAccumulationSteps: 2, learningRate: 3e-3,
                          minLearningRate: 3e-4, warmupSteps: 3, evalInterval: 4, evalBatches: 2, loggingSteps: 2,
                          saveSteps: 4, saveTotalLimit: 2, seed: 42)
    }

    func weights(_ model: LlamaModel) -> [[Float]] { model.parameters.map { $0.value.toArray() } }

    func testLossDecreasesAndMetricsAreNamedAsHF() throws {
        BLAS.setThreads(1)
        let dir = TestDirectory()
        let (train, val) = try makeData(dir)
        let model = try LlamaModel(config: modelConfig(), seed: 1)
        let sink = InMemoryMetricsSink()
        let cfg = trainingConfig(steps: 40)
        let trainer = try Pretrainer(model: model, config: cfg, train: train, validation: val,
                                     checkpointRoot: dir.path("ckpt"), metrics: sink)
        let initial = trainer.evaluate()
        XCTAssertEqual(initial, log(Double(Self.vocab)), accuracy: 0.3, "a fresh model predicts ~uniformly")
        let result = try trainer.train()
        XCTAssertEqual(result.stop, .completed)
        XCTAssertEqual(result.step, 40)
        let evals = sink.series("eval_loss")
        XCTAssertEqual(evals.map(\.step), [4, 8, 12, 16, 20, 24, 28, 32, 36, 40])
        XCTAssertLessThan(evals.last!.value, initial - 0.5, "eval_loss falls on a learnable sequence")
        XCTAssertEqual(sink.series("perplexity").last!.value, exp(evals.last!.value), accuracy: 1e-9)
        XCTAssertEqual(sink.series("loss").count, 20)
        XCTAssertEqual(sink.series("learning_rate").first!.value, 3e-3 * 2 / 3, accuracy: 1e-12, "warm-up step 1 (0-based) of 3")
        let schedule = try cfg.schedule()
        XCTAssertEqual(sink.series("learning_rate").last!.value, schedule.learningRate(at: 39), accuracy: 1e-12, "cosine at the last step")
        XCTAssertLessThan(sink.series("learning_rate").last!.value, 3.1e-4, "near the floor at the end")
        XCTAssertTrue(sink.series("grad_norm").allSatisfy { $0.value > 0 && $0.value.isFinite })
        XCTAssertTrue(sink.series("tokens_per_second").allSatisfy { $0.value > 0 })
        // Checkpoints: HF model directory + trainer state, only the last two kept.
        let ckpts = CheckpointDirectory.steps(in: dir.path("ckpt")).map(\.step)
        XCTAssertEqual(ckpts, [36, 40])
        let files = try FileManager.default.contentsOfDirectory(atPath: result.checkpoint.path).sorted()
        XCTAssertEqual(files, ["config.json", "generation_config.json", "model.safetensors", "optimizer.safetensors",
                               "trainer_state.json", "training_args.json"])
        let reloaded = try LlamaModel.load(directory: result.checkpoint)
        XCTAssertEqual(weights(reloaded), weights(model))
        XCTAssertEqual(try TrainerState.load(from: result.checkpoint).globalStep, 40)
    }

    /// Micro-batch accumulation equals one big batch: 2 x B=3 accumulated == the mean of both losses' gradients.
    func testAccumulatedGradientMatchesSumOfMicroBatches() throws {
        BLAS.setThreads(1)
        let dir = TestDirectory()
        let (train, _) = try makeData(dir)
        var cfg = trainingConfig(steps: 1)
        cfg.maxGradNorm = 0
        cfg.learningRate = 1e-9; cfg.minLearningRate = 0; cfg.warmupSteps = 0; cfg.weightDecay = 0
        let model = try LlamaModel(config: modelConfig(), seed: 3)
        let trainer = try Pretrainer(model: model, config: cfg, train: train, validation: nil, checkpointRoot: dir.path("c"))
        // The reference: the same two batches, gradients by HF-style loss on each, averaged.
        let reference = try LlamaModel(config: modelConfig(), seed: 3)
        var sampler = try RandomWindowSampler(reader: train, batchSize: 3, seqLen: 16, seed: 42)
        reference.zeroGradients()
        var meanLoss = 0.0
        for _ in 0..<2 {
            let b = sampler.nextBatch()
            // labels = inputs followed by the last target: HF shifts inside, so give T+1 tokens per row.
            var tokens: [Int32] = [], labels: [Int32] = []
            for r in 0..<3 {
                let row = Array(b.inputs[(r * 16)..<(r * 16 + 16)]) + [b.targets[r * 16 + 15]]
                tokens += row; labels += row
            }
            let l = reference.loss(input: LlamaInput(tokens: tokens, batch: 3, seqLen: 17), labels: labels)
            reference.backwardLoss(scale: 0.5)
            meanLoss += Double(l) / 2
        }
        var seen: PretrainProgress?
        _ = try trainer.train { p in if p.event == .step { seen = p }; return true }
        XCTAssertEqual(seen!.loss!, meanLoss, accuracy: 1e-5)
        for (p, q) in zip(model.parameters, reference.parameters) {
            let a = p.grad.toArray(), b = q.grad.toArray()
            let scale = b.map { abs($0) }.max()! + 1e-6
            for i in 0..<a.count { XCTAssertEqual(a[i], b[i], accuracy: 2e-4 * scale, p.name) }
        }
    }

    func testStopThenResumeIsBitIdentical() throws {
        BLAS.setThreads(1)
        let dir = TestDirectory()
        let (train, val) = try makeData(dir)
        let cfg = trainingConfig(steps: 12)
        // Straight.
        let straight = try LlamaModel(config: modelConfig(), seed: 1)
        let sinkA = InMemoryMetricsSink()
        _ = try Pretrainer(model: straight, config: cfg, train: train, validation: val, checkpointRoot: dir.path("a"), metrics: sinkA).train()
        // Half, stop (the callback asks), then a new process-like trainer on a differently initialised model.
        let half = try LlamaModel(config: modelConfig(), seed: 1)
        let first = try Pretrainer(model: half, config: cfg, train: train, validation: val, checkpointRoot: dir.path("b"))
        let r1 = try first.train { $0.event != .step || $0.step < 6 }
        XCTAssertEqual(r1.stop, .requested)
        XCTAssertEqual(r1.step, 6)
        XCTAssertEqual(CheckpointDirectory.latest(in: dir.path("b"))?.step, 6)
        let resumedModel = try LlamaModel(config: modelConfig(), seed: 99)
        let sinkB = InMemoryMetricsSink()
        let second = try Pretrainer(model: resumedModel, config: cfg, train: train, validation: val, checkpointRoot: dir.path("b"), metrics: sinkB)
        XCTAssertEqual(try second.resume(), 6)
        let r2 = try second.train()
        XCTAssertEqual(r2.step, 12)
        XCTAssertEqual(weights(resumedModel), weights(straight), "bit-identical weights after resume")
        XCTAssertEqual(sinkB.series("eval_loss").last!.value, sinkA.series("eval_loss").last!.value)
        let fa = try Data(contentsOf: dir.path("a/checkpoint-12/optimizer.safetensors"))
        let fb = try Data(contentsOf: dir.path("b/checkpoint-12/optimizer.safetensors"))
        XCTAssertEqual(fa, fb, "identical AdamW moments")
    }

    func testNonFiniteLossStopsNamingTheStepAndKeepsLastCheckpoint() throws {
        BLAS.setThreads(1)
        let dir = TestDirectory()
        let (train, _) = try makeData(dir)
        var cfg = trainingConfig(steps: 12)
        cfg.saveSteps = 2
        let model = try LlamaModel(config: modelConfig(), seed: 1)
        let trainer = try Pretrainer(model: model, config: cfg, train: train, validation: nil, checkpointRoot: dir.path("c"))
        XCTAssertThrowsError(try trainer.train { p in
            if p.event == .step, p.step == 3 { model.norm.value[0] = .nan }
            return true
        }) { error in
            guard case let TrainingError.nonFinite(name, step, _, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "loss")
            XCTAssertEqual(step, 3)
            XCTAssertTrue("\(error)".contains("at step 3"))
        }
        XCTAssertEqual(CheckpointDirectory.steps(in: dir.path("c")).map(\.step), [2], "the last good checkpoint stays")
        let kept = try LlamaModel.load(directory: dir.path("c/checkpoint-2"))
        XCTAssertTrue(kept.norm.value.toArray().allSatisfy(\.isFinite))
    }

    func testBadInputIsRejectedBeforeAnythingIsWritten() throws {
        let dir = TestDirectory()
        let (train, val) = try makeData(dir)
        let model = try LlamaModel(config: modelConfig(), seed: 1)
        var cfg = trainingConfig()
        cfg.seqLen = 65
        XCTAssertThrowsError(try Pretrainer(model: model, config: cfg, train: train, validation: val, checkpointRoot: dir.path("c"))) {
            XCTAssertTrue("\($0)".contains("max_position_embeddings"), "\($0)")
        }
        // Corpus shorter than one window.
        let tiny = try TokenFileWriter(base: dir.path("tiny"), vocabSize: Self.vocab, tokenizerFingerprint: "test")
        try tiny.append([1, 2, 3], id: "t")
        _ = try tiny.finish()
        XCTAssertThrowsError(try Pretrainer(model: model, config: trainingConfig(), train: TokenFileReader(base: dir.path("tiny")),
                                            validation: nil, checkpointRoot: dir.path("c"))) {
            guard case TrainingError.corpusTooShort = $0 else { return XCTFail("\($0)") }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.path("c").path))
        // A checkpoint of another model config: resume refuses and leaves it as it was.
        var two = trainingConfig(steps: 2)
        two.warmupSteps = 1
        _ = try Pretrainer(model: model, config: two, train: train, validation: nil, checkpointRoot: dir.path("c")).train()
        let before = try Data(contentsOf: dir.path("c/checkpoint-2/model.safetensors"))
        var other = modelConfig()
        other.hiddenSize = 48
        let otherModel = try LlamaModel(config: other, seed: 1)
        let trainer = try Pretrainer(model: otherModel, config: trainingConfig(steps: 4), train: train, validation: nil, checkpointRoot: dir.path("c"))
        XCTAssertThrowsError(try trainer.resume()) { XCTAssertTrue("\($0)".contains("hidden_size"), "\($0)") }
        var otherArgs = trainingConfig(steps: 4)
        otherArgs.batchSize = 5
        let t2 = try Pretrainer(model: model, config: otherArgs, train: train, validation: nil, checkpointRoot: dir.path("c"))
        XCTAssertThrowsError(try t2.resume()) { XCTAssertTrue("\($0)".contains("batch_size"), "\($0)") }
        XCTAssertEqual(try Data(contentsOf: dir.path("c/checkpoint-2/model.safetensors")), before)
    }
}
