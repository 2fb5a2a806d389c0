import Alignment
import Foundation
import Llama
import Logging
import Tensors
import Training
import XCTest

/// PPO with LoRA adapters: the reference is the policy with its adapters disabled (one set of weights).
final class PPOTrainerLoRATests: XCTestCase {
    let prompts: [[Int32]] = [[0, 5], [0, 6, 7, 8], [0, 9, 10], [0, 11, 12, 13, 14, 15], [0, 3], [0, 4, 4], [0, 7, 8, 9, 10], [0, 12]]

    func config() -> PPOConfig {
        var c = PPOConfig()
        c.perDeviceTrainBatchSize = 2
        c.numMiniBatches = 2
        c.responseLength = 6
        c.temperature = 0.7
        c.numPpoEpochs = 2
        c.learningRate = 1e-2
        return c
    }

    /// The toy reward of PPOTrainerTests: the fraction of response tokens equal to 4.
    let scorer: PPOScorer = { _, responses in responses.map { r in Float(r.filter { $0 == 4 }.count) / Float(Swift.max(1, r.count)) } }

    func makeTrainer() throws -> PPOTrainer {
        let policy = try LlamaModel(config: tinyConfig(), seed: 7)
        try policy.applyLoRA(LoRAConfig(r: 4, loraAlpha: 8), seed: 3)
        return try PPOTrainer(policy: policy, reference: policy, scorer: scorer, prompts: prompts, config: config(),
                              totalIterations: 10, eosTokenId: 1, padTokenId: 2, logger: Logger(label: "test"))
    }

    func testOnlyAdaptersAndValueHeadTrainAndAResumedRunContinuesIdentically() throws {
        let a = try makeTrainer()
        let base = a.policy.parameters.map { $0.value.toArray() }
        XCTAssertEqual(a.trainableParameters.count, a.policy.loraParameters.count + 1, "adapters + value head")
        let first = try a.step()
        XCTAssertEqual(first["objective/kl"], 0, "B = 0 at start: policy = base = reference")
        try a.step()
        XCTAssertEqual(a.policy.parameters.map { $0.value.toArray() }, base, "the base is frozen")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ppo-lora-ckpt-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try a.saveCheckpoint(to: dir)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("model.safetensors").path), "base not re-saved")
        let expected = try a.step()
        XCTAssertNotEqual(expected["objective/kl"], 0)
        let b = try makeTrainer()
        try b.loadCheckpoint(from: dir)
        let got = try b.step()
        XCTAssertEqual(got, expected)
        XCTAssertEqual(b.policy.loraParameters.map { $0.value.toArray() }, a.policy.loraParameters.map { $0.value.toArray() })
    }

    func testTheSameModelWithoutAdaptersIsRejectedAsItsOwnReference() throws {
        let policy = try LlamaModel(config: tinyConfig(), seed: 7)
        XCTAssertThrowsError(try PPOTrainer(policy: policy, reference: policy, scorer: scorer, prompts: prompts, config: config(),
                                            totalIterations: 10, eosTokenId: 1, padTokenId: 2, logger: Logger(label: "test"))) {
            XCTAssertTrue("\($0)".contains("applyLoRA"), "\($0)")
        }
    }
}
