import Alignment
import Foundation
import Llama
import Logging
import Tensors
import Training
import XCTest

final class PPOTrainerTests: XCTestCase {
    let prompts: [[Int32]] = [[0, 5], [0, 6, 7, 8], [0, 9, 10], [0, 11, 12, 13, 14, 15], [0, 3], [0, 4, 4], [0, 7, 8, 9, 10], [0, 12]]

    func makeTrainer(config: PPOConfig, scorer: @escaping PPOScorer, iterations: Int = 100, seed: UInt64 = 7) throws -> PPOTrainer {
        let policy = try LlamaModel(config: tinyConfig(), seed: seed)
        let reference = try LlamaModel(config: tinyConfig(), seed: seed)
        return try PPOTrainer(policy: policy, reference: reference, scorer: scorer, prompts: prompts, config: config,
                              totalIterations: iterations, eosTokenId: 1, padTokenId: 2, logger: Logger(label: "test"))
    }

    /// A toy reward: the fraction of response tokens equal to `token`.
    func payFor(_ token: Int32) -> PPOScorer {
        { _, responses in responses.map { r in Float(r.filter { $0 == token }.count) / Float(Swift.max(1, r.count)) } }
    }

    func baseConfig() -> PPOConfig {
        var c = PPOConfig()
        c.perDeviceTrainBatchSize = 8
        c.numMiniBatches = 1
        c.responseLength = 6
        c.temperature = 0.7
        c.numPpoEpochs = 2
        c.learningRate = 3e-3
        return c
    }

    func testUnchangedPolicyHasZeroKLAndRatioExactlyOneOnTheFirstMinibatch() throws {
        let trainer = try makeTrainer(config: baseConfig(), scorer: payFor(4))
        XCTAssertGreaterThan(Set(prompts.map(\.count)).count, 2, "prompts of different lengths (left padding)")
        let m = try trainer.step()
        XCTAssertEqual(m["objective/kl"], 0, "policy == reference before any update")
        XCTAssertEqual(m["objective/non_score_reward"], 0)
        // The first minibatch of the first epoch sees the rollout's own weights: ratio exactly 1.
        let t2 = try makeTrainer(config: baseConfig(), scorer: payFor(4))
        let r = try t2.rollout(prompts)
        XCTAssertTrue(r.rewards.kl.allSatisfy { $0 == 0 })
        let input = ppoModelInput(queries: r.queries, responses: r.responses, mask: r.mask, promptLength: r.promptLength,
                                  responseLength: r.responseLength, padTokenId: 2)
        let again = responseForward(model: t2.policy, input: input, responses: r.responses, promptLength: r.promptLength,
                                    responseLength: r.responseLength, temperature: 0.7, valueHead: t2.valueHead)
        let pl = try clippedPolicyLoss(newLogProbs: again.logProbs, oldLogProbs: r.logProbs, advantages: r.advantages, mask: r.mask, cliprange: 0.2)
        XCTAssertEqual(pl.ratioMean, 1)
        XCTAssertEqual(pl.approxKL, 0)
        XCTAssertEqual(pl.clipFraction, 0)
    }

    func testLeftPaddingGivesTheSameLogProbsAsEachPromptAlone() throws {
        let trainer = try makeTrainer(config: baseConfig(), scorer: payFor(4))
        let r = try trainer.rollout(Array(prompts.prefix(4)))
        for b in 0..<4 {
            let l = r.responseLength
            let alone = ppoModelInput(queries: [r.queries[b]], responses: Array(r.responses[(b * l)..<((b + 1) * l)]),
                                      mask: Array(r.mask[(b * l)..<((b + 1) * l)]), promptLength: r.queries[b].count,
                                      responseLength: l, padTokenId: 2)
            let f = responseForward(model: trainer.reference, input: alone, responses: Array(r.responses[(b * l)..<((b + 1) * l)]),
                                    promptLength: r.queries[b].count, responseLength: l, temperature: 0.7, valueHead: nil)
            for j in 0..<l where r.mask[b * l + j] {
                XCTAssertEqual(f.logProbs[j], r.refLogProbs[b * l + j], accuracy: 1e-5, "row \(b) token \(j)")
            }
        }
    }

    func testMissingEOSPenaltyIsAppliedToRowsWithoutEOS() throws {
        var c = baseConfig()
        c.missingEosPenalty = 1
        let trainer = try makeTrainer(config: c, scorer: { p, _ in [Float](repeating: 0.5, count: p.count) })
        let r = try trainer.rollout(prompts)
        for b in 0..<prompts.count { XCTAssertEqual(r.scores[b], r.containsEOS[b] ? 0.5 : -0.5) }
    }

    func testWithoutKLPenaltyThePolicyCollapsesOntoTheRewardedToken() throws {
        var c = baseConfig()
        c.klCoef = 0
        c.responseLength = 4
        let trainer = try makeTrainer(config: c, scorer: payFor(4), iterations: 40)
        var first = 0.0, last = 0.0
        for i in 0..<25 {
            let m = try trainer.step()
            if i == 0 { first = m["objective/scores"]! }
            last = m["objective/scores"]!
        }
        XCTAssertLessThan(first, 0.3)
        XCTAssertGreaterThan(last, 0.9, "mean fraction of the paid token after 25 iterations")
    }

    /// The adaptive controller (Ziegler et al. 2019, §2.2) holds the measured KL near its target: on the
    /// toy reward that drives an unpenalised policy to ~18 nats (4 tokens), runs with targets 1 and 4 nats
    /// settle within a factor 2 of their own target, in the targets' order, and every rollout's coefficient
    /// is the controller's update from the previous rollout's `objective/kl` (TRL 0.x `AdaptiveKLController`).
    func testAdaptiveControllerHoldsKLNearTheTarget() throws {
        let iterations = 40, horizon: Float = 16, tail = 15
        func mean(_ x: ArraySlice<Double>) -> Double { x.reduce(0, +) / Double(x.count) }
        func run(_ c: PPOConfig) throws -> (kl: [Double], coef: [Double]) {
            let t = try makeTrainer(config: c, scorer: payFor(4), iterations: iterations)
            var kl: [Double] = [], coef: [Double] = []
            for _ in 0..<iterations {
                let m = try t.step()
                kl.append(m["objective/kl"]!)
                coef.append(m["objective/kl_coef"]!)
            }
            return (kl, coef)
        }
        var free = baseConfig()
        free.klCoef = 0
        free.responseLength = 4
        let unconstrained = mean(try run(free).kl.suffix(tail))
        var settled: [Double] = []
        for target: Float in [1, 4] {
            var c = free
            c.klCoef = 0.1
            c.adapKlCtrl = true
            c.target = target
            c.horizon = horizon
            let r = try run(c)
            XCTAssertEqual(r.coef[0], 0.1, accuracy: 1e-7)
            for i in 1..<iterations {
                var ctl = KLController.adaptive(value: Float(r.coef[i - 1]), target: target, horizon: horizon)
                ctl.update(currentKL: Float(r.kl[i - 1]), nSteps: c.perDeviceTrainBatchSize * c.numMiniBatches)
                XCTAssertEqual(Float(r.coef[i]), ctl.value, "target \(target): coefficient of rollout \(i)")
            }
            let steps = zip(r.coef.dropFirst(), r.coef)
            XCTAssertTrue(steps.contains { $0 > $1 } && steps.contains { $0 < $1 }, "the controller acted both ways: \(r.coef)")
            let held = mean(r.kl.suffix(tail))
            XCTAssertGreaterThan(held, 0.5 * Double(target), "target \(target): KL of the last \(tail) rollouts \(r.kl.suffix(tail))")
            XCTAssertLessThan(held, 2 * Double(target), "target \(target): KL of the last \(tail) rollouts \(r.kl.suffix(tail))")
            settled.append(held)
        }
        XCTAssertLessThan(settled[0], settled[1], "a higher target lets the policy move further")
        XCTAssertGreaterThan(unconstrained, 4 * settled[1], "without a penalty the KL runs far past both targets")
    }

    func testSaveAndReloadMidRunContinuesIdentically() throws {
        var c = baseConfig()
        c.adapKlCtrl = true
        c.target = 1
        c.horizon = 100
        c.numMiniBatches = 2
        c.perDeviceTrainBatchSize = 2
        let a = try makeTrainer(config: c, scorer: payFor(4), iterations: 10)
        try a.step(); try a.step()
        let dir = tempDir("ppo-ckpt")
        defer { try? FileManager.default.removeItem(at: dir) }
        try a.saveCheckpoint(to: dir)
        let expected = try a.step()
        let b = try makeTrainer(config: c, scorer: payFor(4), iterations: 10)
        try b.loadCheckpoint(from: dir)
        XCTAssertEqual(b.state.iteration, 2)
        let got = try b.step()
        XCTAssertEqual(got, expected)
        XCTAssertEqual(b.policy.parameters.map { $0.value.toArray() }, a.policy.parameters.map { $0.value.toArray() })
    }

    func testEvaluationOfAnUnchangedPolicyMatchesTheReference() throws {
        let trainer = try makeTrainer(config: baseConfig(), scorer: payFor(4))
        let m = try trainer.evaluate(prompts: prompts, seed: 5)
        XCTAssertEqual(m["eval/score_policy"], m["eval/score_reference"])
        XCTAssertEqual(m["eval/kl"], 0)
    }
}
