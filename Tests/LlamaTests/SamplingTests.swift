// TokenSampler: empirical frequencies match the temperature / top-k / top-p distribution computed here
// the way transformers' logits warpers compute it (ascending sort, cumulative mass <= 1 - top_p removed).

import Foundation
import Llama
import Tensors
import XCTest

final class SamplingTests: XCTestCase {
    /// The distribution HF's warpers leave: temperature, then top-k (ties kept), then top-p.
    private func reference(_ logits: [Float], _ p: SamplingParameters) -> [Double] {
        let s = logits.map { Double($0 / p.temperature) }
        var keep = [Bool](repeating: true, count: s.count)
        if p.topK > 0 && p.topK < s.count {
            let kth = s.sorted(by: >)[p.topK - 1]
            for i in s.indices where s[i] < kth { keep[i] = false }
        }
        if p.topP < 1 {
            let m = s.max()!
            let z = s.indices.filter { keep[$0] }.map { exp(s[$0] - m) }.reduce(0, +)
            let ascending = s.indices.filter { keep[$0] }.sorted { s[$0] < s[$1] || (s[$0] == s[$1] && $0 < $1) }
            var cum = 0.0
            for i in ascending {
                cum += exp(s[i] - m) / z
                if cum <= 1 - Double(p.topP) && i != ascending.last! { keep[i] = false }
            }
        }
        let m = s.max()!
        let e = s.indices.map { keep[$0] ? exp(s[$0] - m) : 0 }
        let z = e.reduce(0, +)
        return e.map { $0 / z }
    }

    private func empirical(_ logits: [Float], _ p: SamplingParameters, draws: Int = 20000, seed: UInt64 = 1) -> [Double] {
        let sampler = TokenSampler(parameters: p, vocabSize: logits.count)
        var rng = Xoshiro256(seed: seed)
        var counts = [Int](repeating: 0, count: logits.count)
        logits.withUnsafeBufferPointer { lp in
            for _ in 0..<draws { counts[Int(sampler.sample(logits: lp.baseAddress!, rng: &rng).token)] += 1 }
        }
        return counts.map { Double($0) / Double(draws) }
    }

    func testFrequenciesMatchWarpedDistribution() {
        let logits: [Float] = [2, 1, 0.5, 0, -1, -3, 0.25]
        let cases = [SamplingParameters(temperature: 1), SamplingParameters(temperature: 0.5),
                     SamplingParameters(temperature: 1.5, topK: 3), SamplingParameters(temperature: 1, topP: 0.8),
                     SamplingParameters(temperature: 0.7, topK: 4, topP: 0.9), SamplingParameters(temperature: 2, topP: 0.5)]
        for p in cases {
            let want = reference(logits, p), got = empirical(logits, p)
            for i in logits.indices {
                XCTAssertEqual(got[i], want[i], accuracy: 0.015, "token \(i) with \(p)")
                if want[i] == 0 { XCTAssertEqual(got[i], 0, "token \(i) is filtered out with \(p)") }
            }
        }
    }

    /// Top-k keeps every token tied with the k-th score (HF `scores < topk[-1]` removal).
    func testTopKKeepsTies() {
        let got = empirical([1, 1, 1, 0], SamplingParameters(temperature: 1, topK: 2), draws: 9000)
        for i in 0..<3 { XCTAssertEqual(got[i], 1.0 / 3, accuracy: 0.02) }
        XCTAssertEqual(got[3], 0)
    }

    /// Greedy picks the first maximum and reports log_softmax at temperature 1; the RNG is untouched.
    func testGreedy() {
        let logits: [Float] = [0, 3, 3, 1]
        let sampler = TokenSampler(parameters: SamplingParameters(temperature: 0), vocabSize: 4)
        var rng = Xoshiro256(seed: 5)
        let before = rng
        let (tok, lp) = logits.withUnsafeBufferPointer { sampler.sample(logits: $0.baseAddress!, rng: &rng) }
        XCTAssertEqual(tok, 1)
        XCTAssertEqual(rng, before)
        let lse = log(exp(0.0) + 2 * exp(3.0) + exp(1.0))
        XCTAssertEqual(Double(lp), 3 - lse, accuracy: 1e-5)
    }

    func testValidation() {
        XCTAssertThrowsError(try SamplingParameters(temperature: -0.1).validate())
        XCTAssertThrowsError(try SamplingParameters(temperature: .nan).validate())
        XCTAssertThrowsError(try SamplingParameters(topK: -1).validate())
        XCTAssertThrowsError(try SamplingParameters(topP: 1.5).validate())
        XCTAssertNoThrow(try SamplingParameters(temperature: 0, topK: 0, topP: 1).validate())
    }
}
