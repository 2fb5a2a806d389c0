import Foundation
import XCTest
@testable import Training

final class CosineScheduleTests: XCTestCase {
    func testExactValues() throws {
        let s = try CosineSchedule(learningRate: 1e-3, warmupSteps: 10, maxSteps: 110, minLearningRate: 1e-4)
        XCTAssertEqual(s.learningRate(at: 0), 1e-4, accuracy: 1e-15)        // 1e-3 * 1/10
        XCTAssertEqual(s.learningRate(at: 4), 5e-4, accuracy: 1e-15)        // 1e-3 * 5/10
        XCTAssertEqual(s.learningRate(at: 9), 1e-3, accuracy: 1e-15)        // peak at the end of warm-up
        XCTAssertEqual(s.learningRate(at: 10), 1e-3, accuracy: 1e-15)       // cos(0) = 1
        XCTAssertEqual(s.learningRate(at: 60), 5.5e-4, accuracy: 1e-15)     // 1e-4 + 0.5 * 9e-4
        XCTAssertEqual(s.learningRate(at: 35), 1e-4 + 0.5 * (1 + cos(Double.pi / 4)) * 9e-4, accuracy: 1e-15)
        XCTAssertEqual(s.learningRate(at: 110), 1e-4)
        XCTAssertEqual(s.learningRate(at: 10_000), 1e-4)
        let noWarmup = try CosineSchedule(learningRate: 2, warmupSteps: 0, maxSteps: 4, minLearningRateRatio: 0)
        // r = s/4: 2 * 0.5 * (1 + cos(pi r)) = 1 + cos(pi s / 4); ratio 0 decays to 0.
        for (step, expected) in [2, 1 + cos(Double.pi / 4), 1, 1 - cos(Double.pi / 4), 0].enumerated() {
            XCTAssertEqual(noWarmup.learningRate(at: step), expected, accuracy: 1e-15, "step \(step)")
        }
        for i in 1...4 { XCTAssertLessThanOrEqual(noWarmup.learningRate(at: i), noWarmup.learningRate(at: i - 1)) }
    }

    func testInvalidSchedules() {
        XCTAssertThrowsError(try CosineSchedule(learningRate: 0, warmupSteps: 0, maxSteps: 1, minLearningRate: 0))
        XCTAssertThrowsError(try CosineSchedule(learningRate: 1, warmupSteps: 5, maxSteps: 4, minLearningRate: 0)) {
            guard case let .invalidConfiguration(field, _)? = $0 as? TrainingError else { return XCTFail() }
            XCTAssertEqual(field, "warmup_steps")
        }
        XCTAssertThrowsError(try CosineSchedule(learningRate: 1, warmupSteps: 0, maxSteps: 4, minLearningRate: 2))
        XCTAssertThrowsError(try CosineSchedule(learningRate: 1, warmupSteps: 0, maxSteps: 4, minLearningRateRatio: 1.5))
    }
}

final class TrainerStateTests: XCTestCase {
    func testSaveLoadRoundTrip() throws {
        let dir = TestDirectory()
        var rngState = BatchSamplerState(seed: 5)
        _ = rngState.rng.next()
        rngState.batchesDrawn = 1
        var s = TrainerState(globalStep: 120, tokensSeen: 120 * 4096, sampler: rngState,
                             schedule: try CosineSchedule(learningRate: 3e-4, warmupSteps: 10, maxSteps: 1000, minLearningRateRatio: 0.1),
                             seed: 5, extra: ["kl_coef": 0.05])
        XCTAssertTrue(s.recordEvaluation(loss: 3.2, step: 100))
        XCTAssertFalse(s.recordEvaluation(loss: 3.5, step: 110))
        XCTAssertFalse(s.recordEvaluation(loss: .nan, step: 115))
        try s.save(in: dir.url)
        XCTAssertEqual(dir.entries, ["trainer_state.json"])
        let back = try TrainerState.load(from: dir.url)
        XCTAssertEqual(back, s)
        XCTAssertEqual(back.bestEvalStep, 100)
        let json = try String(contentsOf: dir.path("trainer_state.json"), encoding: .utf8)
        XCTAssertTrue(json.contains("\"global_step\" : 120"))
        try Data("{\"version\": 1}".utf8).write(to: dir.path("trainer_state.json"))
        XCTAssertThrowsError(try TrainerState.load(from: dir.url))
        XCTAssertThrowsError(try TrainerState.load(from: dir.path("nope")))
    }
}

final class CheckpointDirectoryTests: XCTestCase {
    struct Boom: Error {}

    func testWriteReplaceAndFailureKeepsPrevious() throws {
        let root = TestDirectory()
        let ckpt = root.path("checkpoint-10")
        try CheckpointDirectory.write(to: ckpt) { try Data("v1".utf8).write(to: $0.appendingPathComponent("model.safetensors")) }
        XCTAssertEqual(try String(contentsOf: ckpt.appendingPathComponent("model.safetensors"), encoding: .utf8), "v1")
        XCTAssertThrowsError(try CheckpointDirectory.write(to: ckpt) { dir in
            try Data("half".utf8).write(to: dir.appendingPathComponent("model.safetensors"))
            throw Boom()
        })
        XCTAssertEqual(try String(contentsOf: ckpt.appendingPathComponent("model.safetensors"), encoding: .utf8), "v1")
        XCTAssertEqual(root.entries, ["checkpoint-10"], "no temporary directory left")
        try CheckpointDirectory.write(to: ckpt) { try Data("v2".utf8).write(to: $0.appendingPathComponent("model.safetensors")) }
        XCTAssertEqual(try String(contentsOf: ckpt.appendingPathComponent("model.safetensors"), encoding: .utf8), "v2")
        XCTAssertEqual(root.entries, ["checkpoint-10"])
    }

    func testRecoverAfterACrashBetweenRenames() throws {
        let root = TestDirectory()
        let fm = FileManager.default
        // State after a kill between "rename DIR -> DIR.old" and "rename DIR.tmp -> DIR".
        try fm.createDirectory(at: root.path("out.old-1a"), withIntermediateDirectories: true)
        try Data("good".utf8).write(to: root.path("out.old-1a/f"))
        try fm.createDirectory(at: root.path("out.tmp-1a"), withIntermediateDirectories: true)
        try CheckpointDirectory.recover(root.path("out"))
        XCTAssertEqual(root.entries, ["out"])
        XCTAssertEqual(try String(contentsOf: root.path("out/f"), encoding: .utf8), "good")
    }

    func testStepCheckpointsLatestAndPrune() throws {
        let root = TestDirectory()
        for step in [100, 20, 300] {
            try CheckpointDirectory.write(to: CheckpointDirectory.url(root: root.url, step: step)) { _ in }
        }
        try FileManager.default.createDirectory(at: root.path("checkpoint-400.tmp-ab"), withIntermediateDirectories: true)
        XCTAssertEqual(CheckpointDirectory.steps(in: root.url).map(\.step), [20, 100, 300])
        XCTAssertEqual(CheckpointDirectory.latest(in: root.url)?.step, 300)
        try CheckpointDirectory.prune(in: root.url, keep: 2)
        XCTAssertEqual(CheckpointDirectory.steps(in: root.url).map(\.step), [100, 300])
        XCTAssertNil(CheckpointDirectory.latest(in: root.path("absent")))
    }
}
