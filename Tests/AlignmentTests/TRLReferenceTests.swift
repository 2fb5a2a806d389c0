import XCTest
@testable import Alignment

/// Every value here is compared with `Fixtures/trl_reference.json`, computed by TRL 0.11.4's own
/// functions (or their formulas) in PyTorch from the same float32 inputs.
final class TRLReferenceTests: XCTestCase {
    let r = Reference.json
    var B: Int { r.int("batch_size") }
    var L: Int { r.int("response_length") }

    func testFixtureLoaded() {
        XCTAssertEqual(B, 3)
        XCTAssertEqual(L, 5)
    }

    func testPerTokenRewardsForEachEstimator() throws {
        for est in KLEstimator.allCases {
            let ref = r.dict("per_token_rewards").dict(est.rawValue)
            let out = try perTokenRewards(scores: r.floats("scores"), logProbs: r.floats("logprobs"),
                                          refLogProbs: r.floats("ref_logprobs"), mask: r.bools("mask"),
                                          batchSize: B, responseLength: L, klCoef: Float(r.double("kl_coef")), estimator: est)
            assertClose(out.kl, ref.floats("kl"), "\(est) kl")
            assertClose(out.nonScoreRewards, ref.floats("non_score_rewards"), "\(est) non-score")
            assertClose(out.rewards, ref.floats("rewards"), "\(est) rewards")
            XCTAssertEqual(out.scoreIndices, [4, 2, 0])
        }
    }

    func testGAEAndWhitenedAdvantages() throws {
        let rewards = r.dict("per_token_rewards").dict("k1").floats("rewards")
        let mask = r.bools("mask")
        for case let c as [String: Any] in r["gae"] as? [Any] ?? [] {
            let out = generalizedAdvantageEstimation(rewards: rewards, values: r.floats("values"), mask: mask,
                                                     batchSize: B, responseLength: L,
                                                     gamma: Float(c.double("gamma")), lam: Float(c.double("lam")))
            assertClose(out.advantages, c.floats("advantages"), "advantages γ=\(c.double("gamma"))")
            assertClose(out.returns, c.floats("returns"), "returns")
            assertClose(try maskedWhiten(out.advantages, mask: mask), c.floats("whitened_advantages"), "whitened")
        }
    }

    func testMaskedStatisticsAndWhitening() throws {
        let w = r.dict("whiten")
        let x = w.floats("values"), m = w.bools("mask")
        assertClose(try maskedMean(x, mask: m), w.double("mean"), "mean")
        assertClose(try maskedVariance(x, mask: m), w.double("var_unbiased"), "var unbiased")
        assertClose(try maskedVariance(x, mask: m, unbiased: false), w.double("var_biased"), "var biased")
        assertClose(try maskedWhiten(x, mask: m), w.floats("whitened"), "whitened")
        assertClose(try maskedWhiten(x, mask: m, shiftMean: false), w.floats("whitened_no_shift"), "whitened no shift")
    }

    func testClippedPolicyAndValueLoss() throws {
        let p = r.dict("ppo"), mask = r.bools("mask")
        let pg = try clippedPolicyLoss(newLogProbs: p.floats("new_logprobs"), oldLogProbs: p.floats("old_logprobs"),
                                       advantages: p.floats("advantages"), mask: mask, cliprange: Float(p.double("cliprange")))
        assertClose(Double(pg.loss), p.double("pg_loss"), "pg_loss")
        assertClose(Double(pg.clipFraction), p.double("pg_clipfrac"), "policy/clipfrac_avg")
        assertClose(Double(pg.approxKL), p.double("approxkl"), "policy/approxkl_avg")
        assertClose(Double(pg.policyKL), p.double("policykl"), "policykl")
        assertClose(Double(pg.ratioMean), p.double("ratio_mean"), "val/ratio")
        assertClose(pg.dNewLogProbs, p.floats("d_new_logprobs"), "d pg_loss / d new_logprobs")
        XCTAssertGreaterThan(pg.clipFraction, 0, "the fixture must exercise the clipped branch")

        let vf = try clippedValueLoss(newValues: p.floats("new_values"), oldValues: p.floats("old_values"),
                                      returns: p.floats("returns"), mask: mask, cliprangeValue: Float(p.double("cliprange_value")))
        assertClose(Double(vf.loss), p.double("vf_loss"), "vf_loss")
        assertClose(Double(vf.clipFraction), p.double("vf_clipfrac"), "val/clipfrac_avg")
        assertClose(vf.dNewValues, p.floats("d_new_values"), "d vf_loss / d new_values")
        XCTAssertGreaterThan(vf.clipFraction, 0)
    }

    func testTokenLogProbsEntropyAndGradients() {
        let t = r.dict("token_logprobs")
        let logits = t.floats("logits"), tokens = t.ints("tokens").map(Int32.init)
        let V = t.int("vocab_size"), N = t.int("rows"), T = Float(t.double("temperature"))
        let w = t.floats("weights")
        assertClose(gatherLogProbs(logits: logits, tokens: tokens, vocabSize: V, temperature: T), t.floats("logprobs"), "logprobs")
        var d = [Float](repeating: 0, count: N * V)
        gatherLogProbsBackward(dlogits: &d, logits: logits, tokens: tokens, weights: w, vocabSize: V, temperature: T)
        assertClose(d, t.floats("d_logits"), "d sum(w logp) / d logits")
        assertClose(entropy(logits: logits, rows: N, vocabSize: V, temperature: T), t.floats("entropy"), "entropy")
        var de = [Float](repeating: 0, count: N * V)
        entropyBackward(dlogits: &de, logits: logits, weights: w, vocabSize: V, temperature: T)
        assertClose(de, t.floats("d_logits_entropy"), "d sum(w H) / d logits")
    }

    func testBradleyTerryLoss() throws {
        let b = r.dict("bradley_terry")
        let out = try bradleyTerryLoss(chosen: b.floats("chosen"), rejected: b.floats("rejected"), margins: b.floats("margins"),
                                       centerRewardsCoefficient: Float(b.double("center_rewards_coefficient")))
        assertClose(Double(out.loss), b.double("loss"), "loss")
        assertClose(out.dChosen, b.floats("d_chosen"), "d/dr_c")
        assertClose(out.dRejected, b.floats("d_rejected"), "d/dr_r")
    }

    func testDPOLossGradientsAndMetrics() throws {
        let d = r.dict("dpo")
        let out = try dpoSigmoidLoss(policyChosen: d.floats("policy_chosen"), policyRejected: d.floats("policy_rejected"),
                                     referenceChosen: d.floats("reference_chosen"), referenceRejected: d.floats("reference_rejected"),
                                     beta: Float(d.double("beta")), labelSmoothing: Float(d.double("label_smoothing")))
        assertClose(Double(out.loss), d.double("loss"), "loss")
        assertClose(out.losses, d.floats("losses"), "losses")
        assertClose(out.dPolicyChosen, d.floats("d_policy_chosen"), "d/d pi_c")
        assertClose(out.dPolicyRejected, d.floats("d_policy_rejected"), "d/d pi_r")
        let m = d.dict("metrics")
        for name in ["rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins"] {
            assertClose(out.metrics[name] ?? .nan, m.double(name), name)
        }
    }

    func testAdaptiveKLControllerTrace() throws {
        let a = r.dict("adaptive_kl")
        var ctl = KLController.adaptive(value: Float(a.double("init")), target: Float(a.double("target")), horizon: Float(a.double("horizon")))
        let trace = a["trace"] as? [Any] ?? []
        XCTAssertEqual(trace.count, 4)
        for case let step as [String: Any] in trace {
            ctl.update(currentKL: Float(step.double("current")), nSteps: step.int("n_steps"))
            assertClose(Double(ctl.value), step.double("value"), "kl_coef after KL \(step.double("current"))")
        }
    }
}
