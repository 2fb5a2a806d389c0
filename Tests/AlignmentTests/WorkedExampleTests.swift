import Foundation
import XCTest
@testable import Alignment

/// Small cases worked by hand (values in the comments), and the failure classes RLHF users report.
final class WorkedExampleTests: XCTestCase {
    // MARK: - GAE

    func testGAEWorkedExample() {
        // rewards [0, 0, 1], values [0.5, 0.6, 0.7], gamma 1, lam 0.95:
        // t=2: delta = 1 - 0.7 = 0.3                 A = 0.3
        // t=1: delta = 0 + 0.7 - 0.6 = 0.1           A = 0.1 + 0.95 * 0.3 = 0.385
        // t=0: delta = 0 + 0.6 - 0.5 = 0.1           A = 0.1 + 0.95 * 0.385 = 0.46575
        let out = generalizedAdvantageEstimation(rewards: [0, 0, 1], values: [0.5, 0.6, 0.7], mask: nil,
                                                 batchSize: 1, responseLength: 3, gamma: 1, lam: 0.95)
        assertClose(out.advantages, [0.46575, 0.385, 0.3], "advantages")
        assertClose(out.returns, [0.96575, 0.985, 1.0], "returns")
        // With lam = 1 and gamma = 1 the return is the sum of future rewards whatever the values.
        let mc = generalizedAdvantageEstimation(rewards: [0.1, -0.2, 1], values: [0.5, 0.6, 0.7], mask: nil,
                                                batchSize: 1, responseLength: 3, gamma: 1, lam: 1)
        assertClose(mc.returns, [0.9, 0.8, 1.0], "Monte-Carlo returns")
    }

    func testGAEIgnoresPaddingAfterTheResponse() {
        let real = generalizedAdvantageEstimation(rewards: [0.2, -0.1, 1], values: [0.3, 0.1, 0.4], mask: nil,
                                                  batchSize: 1, responseLength: 3, gamma: 0.99, lam: 0.95)
        let padded = generalizedAdvantageEstimation(rewards: [0.2, -0.1, 1, 5, -7], values: [0.3, 0.1, 0.4, 9, 9],
                                                    mask: [true, true, true, false, false],
                                                    batchSize: 1, responseLength: 5, gamma: 0.99, lam: 0.95)
        XCTAssertEqual(Array(padded.advantages.prefix(3)), real.advantages)
        XCTAssertEqual(Array(padded.returns.prefix(3)), real.returns)
        XCTAssertEqual(Array(padded.advantages.suffix(2)), [0, 0])
    }

    // MARK: - KL

    func testKLEstimatorsWorkedExample() {
        // log pi = -1, log pi_ref = -1.5: log r = -0.5; k1 = 0.5, k2 = 0.125, k3 = e^-0.5 - 1 + 0.5.
        XCTAssertEqual(KLEstimator.k1.estimate(logProb: -1, refLogProb: -1.5), 0.5, accuracy: 1e-7)
        XCTAssertEqual(KLEstimator.k2.estimate(logProb: -1, refLogProb: -1.5), 0.125, accuracy: 1e-7)
        XCTAssertEqual(KLEstimator.k3.estimate(logProb: -1, refLogProb: -1.5), Float(exp(-0.5) - 0.5), accuracy: 1e-7)
    }

    func testUnchangedPolicyHasZeroKLAndRatioExactlyOne() throws {
        // Same log-probs for policy, reference and rollout (an unchanged policy, any temperature).
        let lp: [Float] = [-1.2, -0.3, -4.0, -2.2, -0.01, -7.5]
        let mask = [true, true, true, true, false, false]
        for est in KLEstimator.allCases {
            let r = try perTokenRewards(scores: [2.5, -1], logProbs: lp, refLogProbs: lp, mask: mask,
                                        batchSize: 2, responseLength: 3, klCoef: 0.05, estimator: est)
            XCTAssertEqual(r.kl, [Float](repeating: 0, count: 6), "\(est)")
            XCTAssertEqual(r.meanSequenceKL, 0)
            XCTAssertEqual(r.rewards, [0, 0, 2.5, -1, 0, 0], "score at the last real token only")
        }
        let pg = try clippedPolicyLoss(newLogProbs: lp, oldLogProbs: lp, advantages: [1, -1, 0.5, 2, 3, 4], mask: mask, cliprange: 0.2)
        XCTAssertEqual(pg.ratioMean, 1)
        XCTAssertEqual(pg.approxKL, 0)
        XCTAssertEqual(pg.clipFraction, 0)
        XCTAssertEqual(pg.loss, -(1 - 1 + 0.5 + 2) / 4, accuracy: 1e-7)
    }

    func testKLPenaltyRewardsWorkedExample() throws {
        // k1 kl = [0.5, -0.25]; klCoef 0.1 -> non-score [-0.05, 0.025]; score 1 at index 1.
        let r = try perTokenRewards(scores: [1], logProbs: [-1, -2], refLogProbs: [-1.5, -1.75], mask: [true, true],
                                    batchSize: 1, responseLength: 2, klCoef: 0.1)
        assertClose(r.kl, [0.5, -0.25], "kl")
        assertClose(r.rewards, [-0.05, 1.025], "rewards")
        assertClose(r.meanNonScoreReward, -0.025, "objective/non_score_reward")
        XCTAssertThrowsError(try perTokenRewards(scores: [1], logProbs: [0], refLogProbs: [0], mask: [false],
                                                 batchSize: 1, responseLength: 1, klCoef: 0.1)) {
            XCTAssertEqual($0 as? AlignmentError, .emptyResponse(row: 0))
        }
    }

    func testKLControllers() {
        var fixed = KLController.fixed(value: 0.05)
        fixed.update(currentKL: 100, nSteps: 1000)
        XCTAssertEqual(fixed.value, 0.05)
        // e = clip(12/6 - 1, -0.2, 0.2) = 0.2; value = 0.2 * (1 + 0.2 * 100 / 10000) = 0.2004
        var a = KLController.adaptive(value: 0.2, target: 6, horizon: 10_000)
        a.update(currentKL: 12, nSteps: 100)
        XCTAssertEqual(a.value, 0.2004, accuracy: 1e-7)
        // At the target the coefficient does not move.
        var b = KLController.adaptive(value: 0.2, target: 6, horizon: 10_000)
        b.update(currentKL: 6, nSteps: 100)
        XCTAssertEqual(b.value, 0.2)
        let data = try? JSONEncoder().encode(a)
        XCTAssertEqual(data.flatMap { try? JSONDecoder().decode(KLController.self, from: $0) }, a)
    }

    // MARK: - Log-probabilities

    func testUniformLogitsGiveLogVocabulary() {
        let V = 8
        let logits = [Float](repeating: 3.25, count: 2 * V)
        let lp = gatherLogProbs(logits: logits, tokens: [0, 7], vocabSize: V, temperature: 0.7)
        assertClose(lp, [Float(-log(8.0)), Float(-log(8.0))], "log p")
        assertClose(entropy(logits: logits, rows: 2, vocabSize: V), [Float(log(8.0)), Float(log(8.0))], "entropy")
    }

    func testTemperatureSharpensTheDistribution() {
        let logits: [Float] = [2, 1, 0]
        let cold = gatherLogProbs(logits: logits, tokens: [0], vocabSize: 3, temperature: 0.5)[0]
        let warm = gatherLogProbs(logits: logits, tokens: [0], vocabSize: 3, temperature: 1)[0]
        // At T = 0.5 the logits are [4, 2, 0]: log p0 = 4 - log(e^4 + e^2 + 1).
        XCTAssertEqual(cold, Float(4 - log(exp(4.0) + exp(2.0) + 1)), accuracy: 1e-6)
        XCTAssertGreaterThan(cold, warm)
    }

    // MARK: - Reward model

    func testBradleyTerryBatchLossIsTheMeanOfPairLosses() throws {
        let c: [Float] = [1.5, -0.2, 0.3, 2.0], r: [Float] = [0.5, 0.1, 0.3, -1.0], m: [Float] = [0, 0.5, 0, 1]
        for size in [1, 4] {
            let batch = try bradleyTerryLoss(chosen: Array(c.prefix(size)), rejected: Array(r.prefix(size)), margins: Array(m.prefix(size)))
            var mean = 0.0
            for i in 0..<size {
                mean += Double(try bradleyTerryLoss(chosen: [c[i]], rejected: [r[i]], margins: [m[i]]).loss) / Double(size)
            }
            XCTAssertEqual(Double(batch.loss), mean, accuracy: 1e-6, "batch size \(size)")
        }
        // -log sigmoid(0) = log 2 for a tie.
        XCTAssertEqual(try bradleyTerryLoss(chosen: [0.3], rejected: [0.3]).loss, Float(log(2.0)), accuracy: 1e-7)
        XCTAssertThrowsError(try bradleyTerryLoss(chosen: [], rejected: []))
    }

    func testRewardModelMetrics() throws {
        let m = try rewardModelMetrics(chosen: [2, 0, 1], rejected: [1, 0, 3])
        XCTAssertEqual(m.accuracy, 1.0 / 3.0, accuracy: 1e-12)  // the tie counts as wrong
        XCTAssertEqual(m.margin, -1.0 / 3.0, accuracy: 1e-12)   // (1 + 0 - 2) / 3
        XCTAssertEqual(m.meanReward, 7.0 / 6.0, accuracy: 1e-12)
        XCTAssertEqual(m.minReward, 0)
        XCTAssertEqual(m.maxReward, 3)
        XCTAssertEqual(Set(m.named.keys), ["accuracy", "margin", "margin_std", "mean_reward", "min_reward", "max_reward"])
    }

    func testDPOAtInitialisationIsLog2() throws {
        // Policy == reference: z = 0, loss = log 2, gradient -beta/2/P on chosen.
        let out = try dpoSigmoidLoss(policyChosen: [-10, -3], policyRejected: [-12, -4], referenceChosen: [-10, -3],
                                     referenceRejected: [-12, -4], beta: 0.1)
        XCTAssertEqual(out.loss, Float(log(2.0)), accuracy: 1e-7)
        assertClose(out.dPolicyChosen, [-0.025, -0.025], "d pi_c")
        XCTAssertEqual(out.metrics["rewards/accuracies"], 0)
        XCTAssertEqual(out.metrics["rewards/margins"], 0)
    }

    // MARK: - Statistics

    func testWhitenNeedsTwoElements() {
        XCTAssertThrowsError(try maskedWhiten([1, 2, 3], mask: [false, true, false])) {
            XCTAssertEqual($0 as? AlignmentError, .tooFewElementsForVariance(count: 1, what: "values"))
        }
        XCTAssertThrowsError(try maskedMean([1], mask: [false]))
    }

    func testRunningMomentsMatchDirectStatisticsAndNormalise() throws {
        let chunks: [[Float]] = [[1, 2, 3], [10], [-4, 0.5, 7, 7]]
        var m = RunningMoments()
        for c in chunks { m.update(c) }
        let all = chunks.flatMap { $0 }.map(Double.init)
        let mean = all.reduce(0, +) / Double(all.count)
        let pop = all.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(all.count)
        XCTAssertEqual(m.count, 8)
        XCTAssertEqual(m.mean, mean, accuracy: 1e-12)
        XCTAssertEqual(m.variance, pop, accuracy: 1e-12)
        XCTAssertEqual(m.std, (pop * 8 / 7).squareRoot(), accuracy: 1e-12)
        let norm = try RewardNormalization(fitting: m)
        let z = norm.apply(chunks.flatMap { $0 })
        var zm = RunningMoments()
        zm.update(z)
        XCTAssertEqual(zm.mean, 0, accuracy: 1e-6)
        XCTAssertEqual(zm.std, 1, accuracy: 1e-6)
        // Codable round trip keeps the exact statistics (a reloaded model scores identically).
        let back = try JSONDecoder().decode(RunningMoments.self, from: JSONEncoder().encode(m))
        XCTAssertEqual(back, m)
        let nback = try JSONDecoder().decode(RewardNormalization.self, from: JSONEncoder().encode(norm))
        XCTAssertEqual(nback.apply(3.7), norm.apply(3.7))
        XCTAssertThrowsError(try RewardNormalization(fitting: RunningMoments()))
    }

    // MARK: - Responses

    func testTruncationMasksAndMissingEOSPenalty() {
        let eos: Int32 = 2, pad: Int32 = 0
        let t = truncateAfterFirstEOS(tokens: [5, 2, 7, 2, /**/ 3, 4, 6, 9, /**/ 2, 1, 1, 1],
                                      batchSize: 3, responseLength: 4, eosTokenID: eos, padTokenID: pad)
        XCTAssertEqual(t.tokens, [5, 2, 0, 0, 3, 4, 6, 9, 2, 0, 0, 0])
        XCTAssertEqual(t.mask, [true, true, false, false, true, true, true, true, true, false, false, false])
        XCTAssertEqual(t.lengths, [2, 4, 1])
        XCTAssertEqual(t.containsEOS, [true, false, true])
        XCTAssertEqual(t.lastRealTokenIndices, [1, 3, 0])
        XCTAssertEqual(applyMissingEOSPenalty(scores: [1, 1, 1], containsEOS: t.containsEOS, penalty: 1), [1, 0, 1])
        XCTAssertEqual(applyMissingEOSPenalty(scores: [1, 1, 1], containsEOS: t.containsEOS, penalty: nil), [1, 1, 1])
    }

    func testScoreIndexDoesNotMoveWithAppendedPadding() {
        // A right-padded batch: appending pads after a response leaves the reward read position unchanged.
        let a = lastTrueIndices(mask: [true, true, true, false], batchSize: 1, length: 4)
        let b = lastTrueIndices(mask: [true, true, true, false, false, false], batchSize: 1, length: 6)
        XCTAssertEqual(a, [2]); XCTAssertEqual(b, [2])
        XCTAssertEqual(lastTrueIndices(mask: [false, false], batchSize: 1, length: 2), [nil])
    }
}

final class PPOMetricsTests: XCTestCase {
    func testRolloutMetricsWorkedExample() throws {
        // Two responses of lengths 2 and 1 (L = 2); k1 kl = [0.5, -0.25 | 0.1, -]; klCoef 0.1.
        let lp: [Float] = [-1, -2, -0.5, 0], ref: [Float] = [-1.5, -1.75, -0.6, 0]
        let mask = [true, true, true, false]
        let r = try perTokenRewards(scores: [1, 3], logProbs: lp, refLogProbs: ref, mask: mask, batchSize: 2, responseLength: 2, klCoef: 0.1)
        let m = rolloutMetrics(scores: [1, 3], rewards: r, logProbs: lp, mask: mask, containsEOS: [true, false])
        XCTAssertEqual(m["objective/kl"]!, (0.25 + 0.1) / 2, accuracy: 1e-6)
        XCTAssertEqual(m["objective/entropy"]!, (3 + 0.5) / 2, accuracy: 1e-6)
        XCTAssertEqual(m["objective/non_score_reward"]!, -0.1 * 0.35 / 2, accuracy: 1e-6)
        XCTAssertEqual(m["objective/scores"]!, 2)
        XCTAssertEqual(m["objective/rlhf_reward"]!, 2 - 0.0175, accuracy: 1e-6)
        XCTAssertEqual(m["val/num_eos_tokens"], 1)
    }

    func testUpdateMetricsAverageMinibatches() throws {
        var acc = PPOUpdateMetrics()
        XCTAssertEqual(acc.metrics, [:])
        let p1 = try clippedPolicyLoss(newLogProbs: [0, 0], oldLogProbs: [0, 0], advantages: [1, -1], mask: nil, cliprange: 0.2)
        let p2 = try clippedPolicyLoss(newLogProbs: [0.1, 0], oldLogProbs: [0, 0], advantages: [1, -1], mask: nil, cliprange: 0.2)
        let v = try clippedValueLoss(newValues: [1], oldValues: [1], returns: [0], mask: nil, cliprangeValue: 0.2)
        acc.add(policy: p1, value: v, entropyMean: 2)
        acc.add(policy: p2, value: v, entropyMean: 4)
        let m = acc.metrics
        XCTAssertEqual(acc.count, 2)
        XCTAssertEqual(m["policy/entropy_avg"], 3)
        XCTAssertEqual(m["loss/value_avg"], 0.5)
        XCTAssertEqual(m["val/ratio"]!, (1 + (exp(0.1) + 1) / 2) / 2, accuracy: 1e-6)
        XCTAssertEqual(m["policy/approxkl_avg"]!, (0 + 0.5 * 0.01 / 2) / 2, accuracy: 1e-7)
        XCTAssertEqual(Set(m.keys), ["policy/approxkl_avg", "policy/clipfrac_avg", "policy/entropy_avg", "loss/policy_avg",
                                     "loss/value_avg", "val/clipfrac_avg", "val/ratio", "val/ratio_var"])
    }
}
