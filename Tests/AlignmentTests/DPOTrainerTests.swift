import Alignment
import Foundation
import Llama
import Logging
import Tensors
import XCTest

final class DPOTrainerTests: XCTestCase {
    func data() -> [DPOPair] {
        (0..<8).map { i in
            let p: [Int32] = [0, Int32(7 + i % 6), Int32(8 + i % 5)]
            return DPOPair(id: "\(i)", chosen: p + [5, 1], chosenPromptLength: 3, rejected: p + [6, 6, 1], rejectedPromptLength: 3)
        }
    }

    func testReferenceOfTheUnchangedPolicyGivesLossLog2AndZeroRewards() throws {
        let policy = try LlamaModel(config: tinyConfig(), seed: 4)
        let trainer = DPOTrainer(policy: policy, config: DPOConfig(), logger: Logger(label: "test"))
        let pairs = trainer.precomputeReference(data(), batchSize: 3)
        let m = try trainer.evaluate(pairs, batchSize: 8)
        XCTAssertEqual(m["eval_loss"]!, log(2), accuracy: 1e-5)
        XCTAssertEqual(m["eval_rewards/margins"]!, 0, accuracy: 1e-5)
    }

    func testGradientMatchesFiniteDifferences() throws {
        let policy = try LlamaModel(config: tinyConfig(), seed: 4)
        var config = DPOConfig()
        config.beta = 1
        let trainer = DPOTrainer(policy: policy, config: config, logger: Logger(label: "test"))
        var pairs = trainer.precomputeReference(Array(data().prefix(2)), batchSize: 2)
        pairs[0].referenceChosen -= 0.5   // away from the symmetric point
        func loss() throws -> Double { try trainer.evaluate(pairs, batchSize: 2)["eval_loss"]! }
        policy.zeroGradients()
        _ = try trainer.lossAndGradients(pairs)
        for p in [policy.norm, policy.layers[0].vProj.weight, policy.lmHead!.weight] {
            let g = p.grad.toArray()
            for i in stride(from: 0, to: p.count, by: Swift.max(1, p.count / 5)) {
                let x = p.value[i]
                p.value[i] = x + 1e-2; let lp = try loss()
                p.value[i] = x - 1e-2; let lm = try loss()
                p.value[i] = x
                let fd = (lp - lm) / 2e-2
                XCTAssertEqual(Double(g[i]), fd, accuracy: 2e-3 + 2e-2 * abs(fd), "\(p.name)[\(i)]")
            }
        }
    }

    func testTrainingPrefersTheChosenResponses() throws {
        let policy = try LlamaModel(config: tinyConfig(), seed: 4)
        var config = DPOConfig()
        config.learningRate = 3e-3
        config.perDeviceTrainBatchSize = 4
        let trainer = DPOTrainer(policy: policy, config: config, logger: Logger(label: "test"))
        let pairs = trainer.precomputeReference(data(), batchSize: 4)
        try trainer.train(pairs, maxSteps: 20) { _, _ in true }
        let m = try trainer.evaluate(pairs, batchSize: 8)
        XCTAssertEqual(m["eval_rewards/accuracies"], 1)
        XCTAssertLessThan(m["eval_loss"]!, log(2))
    }
}
