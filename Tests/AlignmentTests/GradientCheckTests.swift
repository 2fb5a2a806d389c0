import XCTest
@testable import Alignment

/// Central finite differences (in Double around Float inputs) for every gradient the trainers use.
final class GradientCheckTests: XCTestCase {
    var rng = SystemRandomNumberGeneratorSeeded(seed: 7)

    func randn(_ n: Int, scale: Float = 1, shift: Float = 0) -> [Float] {
        (0..<n).map { _ in shift + scale * rng.normal() }
    }

    func testBradleyTerryGradient() throws {
        let c = randn(4), r = randn(4), m = randn(4, scale: 0.3)
        let out = try bradleyTerryLoss(chosen: c, rejected: r, margins: m, centerRewardsCoefficient: 0.05)
        let nc = try finiteDifference(c) { Double(try bradleyTerryLoss(chosen: $0, rejected: r, margins: m, centerRewardsCoefficient: 0.05).loss) }
        let nr = try finiteDifference(r) { Double(try bradleyTerryLoss(chosen: c, rejected: $0, margins: m, centerRewardsCoefficient: 0.05).loss) }
        assertGradient(out.dChosen, nc, "dr_c")
        assertGradient(out.dRejected, nr, "dr_r")
    }

    func testDPOGradient() throws {
        let pc = randn(5, scale: 2, shift: -10), pr = randn(5, scale: 2, shift: -11)
        let rc = randn(5, scale: 2, shift: -10), rr = randn(5, scale: 2, shift: -11)
        func loss(_ a: [Float], _ b: [Float]) throws -> Double {
            Double(try dpoSigmoidLoss(policyChosen: a, policyRejected: b, referenceChosen: rc, referenceRejected: rr, beta: 0.5, labelSmoothing: 0.2).loss)
        }
        let out = try dpoSigmoidLoss(policyChosen: pc, policyRejected: pr, referenceChosen: rc, referenceRejected: rr, beta: 0.5, labelSmoothing: 0.2)
        assertGradient(out.dPolicyChosen, try finiteDifference(pc) { try loss($0, pr) }, "d pi_c")
        assertGradient(out.dPolicyRejected, try finiteDifference(pr) { try loss(pc, $0) }, "d pi_r")
    }

    func testPolicyLossGradient() throws {
        // Ratios kept away from the clip boundaries so the loss is differentiable at every point checked.
        let N = 12
        let old = randn(N, scale: 0.5, shift: -2)
        let deltas: [Float] = [-0.5, -0.1, 0.05, 0.4, -0.3, 0.1, 0.6, -0.05, 0.02, -0.6, 0.3, 0.0]
        let new = zip(old, deltas).map { $0 + $1 }
        let adv = randn(N)
        let mask = (0..<N).map { $0 % 5 != 4 }
        let out = try clippedPolicyLoss(newLogProbs: new, oldLogProbs: old, advantages: adv, mask: mask, cliprange: 0.2)
        XCTAssertGreaterThan(out.clipFraction, 0)
        let num = try finiteDifference(new, h: 1e-3) {
            Double(try clippedPolicyLoss(newLogProbs: $0, oldLogProbs: old, advantages: adv, mask: mask, cliprange: 0.2).loss)
        }
        assertGradient(out.dNewLogProbs, num, "d pg / d new")
        for i in 0..<N where !mask[i] { XCTAssertEqual(out.dNewLogProbs[i], 0) }
    }

    func testValueLossGradient() throws {
        let N = 10
        let old = randn(N)
        let shifts: [Float] = [-0.5, -0.1, 0.05, 0.4, -0.3, 0.1, 0.6, -0.05, 0.35, -0.6]
        let new = zip(old, shifts).map { $0 + $1 }
        let ret = randn(N)
        let mask = (0..<N).map { $0 != 3 }
        let out = try clippedValueLoss(newValues: new, oldValues: old, returns: ret, mask: mask, cliprangeValue: 0.2)
        let num = try finiteDifference(new) {
            Double(try clippedValueLoss(newValues: $0, oldValues: old, returns: ret, mask: mask, cliprangeValue: 0.2).loss)
        }
        assertGradient(out.dNewValues, num, "d vf / d new")
    }

    func testLogProbGatherGradientWithTemperature() {
        let N = 4, V = 6
        let logits = randn(N * V, scale: 2)
        let tokens: [Int32] = [0, 5, 2, 2]
        let w: [Float] = [1, -0.5, 0.25, 0]
        var d = [Float](repeating: 0.5, count: N * V)  // accumulates: start from a non-zero buffer
        gatherLogProbsBackward(dlogits: &d, logits: logits, tokens: tokens, weights: w, vocabSize: V, temperature: 0.7)
        let num = finiteDifference(logits) { z in
            zip(gatherLogProbs(logits: z, tokens: tokens, vocabSize: V, temperature: 0.7), w).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        }
        assertGradient(d.map { $0 - 0.5 }, num, "d sum(w logp) / d logits")
    }

    func testEntropyGradient() {
        let N = 3, V = 5
        let logits = randn(N * V, scale: 1.5)
        let w: [Float] = [1, 0.3, -2]
        var d = [Float](repeating: 0, count: N * V)
        entropyBackward(dlogits: &d, logits: logits, weights: w, vocabSize: V, temperature: 0.7)
        let num = finiteDifference(logits) { z in
            zip(entropy(logits: z, rows: N, vocabSize: V, temperature: 0.7), w).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        }
        assertGradient(d, num, "d sum(w H) / d logits")
    }
}

/// A tiny seeded generator for test inputs (SplitMix64 + Box-Muller).
struct SystemRandomNumberGeneratorSeeded {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Double { (Double(next() >> 11) + 0.5) * 0x1.0p-53 }
    mutating func normal() -> Float {
        Float((-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform()))
    }
}
