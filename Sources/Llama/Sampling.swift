// Next-token selection from one row of logits: greedy, or temperature then top-k then top-p sampling
// (the order and tie rules of Hugging Face's logits warpers).
//
// Legend: V vocab_size.

import Foundation
import Tensors

// MARK: - Sampling parameters

/// How the next token is chosen from logits.
///
/// Hugging Face semantics: `temperature == 0` is greedy (argmax, the first index among equal maxima);
/// otherwise the logits are divided by `temperature`, then `TopKLogitsWarper` keeps every token whose
/// score is >= the k-th largest (ties kept), then `TopPLogitsWarper` keeps the smallest set of most
/// likely tokens whose probability reaches `topP` (always at least one), then one token is drawn from the
/// softmax of what is kept.
/// - Source: transformers `generation/logits_process.py` (`TemperatureLogitsWarper`,
///   `TopKLogitsWarper`, `TopPLogitsWarper`); Holtzman et al. 2020, "The Curious Case of Neural Text
///   Degeneration", section 3.1 (nucleus sampling).
public struct SamplingParameters: Sendable, Equatable, Codable {
    /// Softmax temperature; 0 means greedy.
    public var temperature: Float
    /// Keep the k most likely tokens (0 disables; HF's `generate` default is 50, ours 0).
    public var topK: Int
    /// Nucleus mass in (0, 1]; 1 disables.
    public var topP: Float

    /// - Parameters: see the properties.
    public init(temperature: Float = 1, topK: Int = 0, topP: Float = 1) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
    }

    /// Checks the ranges.
    /// - Throws: `LlamaError.invalidInput` naming the field (negative or non-finite temperature, negative
    ///   top-k, top-p outside (0, 1]).
    public func validate() throws {
        guard temperature.isFinite, temperature >= 0 else {
            throw LlamaError.invalidInput("temperature \(temperature) must be >= 0 (0 means greedy)")
        }
        guard topK >= 0 else { throw LlamaError.invalidInput("topK \(topK) must be >= 0 (0 disables top-k)") }
        guard topP > 0, topP <= 1 else { throw LlamaError.invalidInput("topP \(topP) must be in (0, 1] (1 disables top-p)") }
    }
}

// MARK: - Sampler

/// Chooses tokens from logits rows, reusing its buffers (no allocation per token).
///
/// Threading: not thread-safe (one sampler per generation loop).
public final class TokenSampler {
    /// The sampling rules.
    public let parameters: SamplingParameters
    private var scaled: [Float]
    private var order: [Int32]

    /// Creates a sampler for a vocabulary of `vocabSize` tokens.
    public init(parameters: SamplingParameters, vocabSize: Int) {
        self.parameters = parameters
        scaled = [Float](repeating: 0, count: vocabSize)
        order = [Int32](repeating: 0, count: vocabSize)
    }

    /// Chooses one token and returns it with its log-probability under `softmax(logits / temperature)`
    /// over the whole vocabulary (temperature 1 when greedy) — the quantity PPO rescoring recomputes
    /// (TRL divides the logits by the temperature before `log_softmax`), not the truncated top-k/top-p
    /// distribution.
    /// - Parameters:
    ///   - logits: `[V]` unnormalised scores.
    ///   - rng: the generator (advanced by one uniform draw when sampling, untouched when greedy).
    /// - Returns: the token id and its log-probability in nats.
    public func sample(logits: UnsafePointer<Float>, rng: inout Xoshiro256) -> (token: Int32, logProb: Float) {
        let v = scaled.count, p = parameters
        if p.temperature == 0 {
            // Greedy: the argmax and its log-softmax, straight from the logits (no copy, no sort).
            let r = argmaxLogSumExp(logits, count: v)
            return (Int32(r.index), logits[r.index] - r.logSumExp)
        }
        return scaled.withUnsafeMutableBufferPointer { sb in
            let s = sb.baseAddress!
            scaleCopy(logits, by: 1 / p.temperature, into: s, count: v)
            let r = argmaxLogSumExp(s, count: v)
            let m = r.max, arg = r.index, logZ = r.logSumExp

            // Candidates in descending score order when top-k or top-p needs an order, else all tokens.
            var threshold = -Float.infinity
            if p.topK > 0 && p.topK < v { threshold = kthLargest(s, count: v, k: p.topK) }
            let token: Int
            if p.topP < 1 {
                token = order.withUnsafeMutableBufferPointer { ob -> Int in
                    var kept = 0
                    for i in 0..<v where s[i] >= threshold { ob[kept] = Int32(i); kept += 1 }
                    var cand = UnsafeMutableBufferPointer(rebasing: ob[0..<kept])
                    cand.sort { (a: Int32, c: Int32) -> Bool in
                        let sa: Float = s[Int(a)], sc: Float = s[Int(c)]
                        return sa > sc || (sa == sc && a > c)
                    }
                    var zk: Double = 0
                    for i in 0..<kept { zk += Double(expf(s[Int(cand[i])] - m)) }
                    // Keep the most likely tokens while the mass before them is below topP (at least one).
                    // Ties rank the higher id first: the reverse of HF's stable ascending sort.
                    var mass: Double = 0, nucleus = 0, zn: Double = 0
                    while nucleus < kept && mass < Double(p.topP) {
                        let e = Double(expf(s[Int(cand[nucleus])] - m))
                        mass += e / zk
                        zn += e
                        nucleus += 1
                    }
                    let u = rng.nextDouble() * zn
                    var acc: Double = 0
                    for i in 0..<nucleus {
                        acc += Double(expf(s[Int(cand[i])] - m))
                        if u < acc { return Int(cand[i]) }
                    }
                    return Int(cand[nucleus - 1])
                }
            } else {
                var zk: Double = 0, last = arg
                for i in 0..<v where s[i] >= threshold { zk += Double(expf(s[i] - m)) }
                let u = rng.nextDouble() * zk
                var acc: Double = 0, chosen = -1
                for i in 0..<v where s[i] >= threshold {
                    acc += Double(expf(s[i] - m))
                    last = i
                    if u < acc { chosen = i; break }
                }
                token = chosen >= 0 ? chosen : last
            }
            return (Int32(token), s[token] - logZ)
        }
    }

    /// The k-th largest of `x[0..<count]` (1-based k), by a min-heap of size k: O(V log k).
    private func kthLargest(_ x: UnsafePointer<Float>, count: Int, k: Int) -> Float {
        var heap = [Float](); heap.reserveCapacity(k)
        func siftDown(_ i0: Int) {
            var i = i0
            while true {
                let l = 2 * i + 1, r = l + 1
                var s = i
                if l < heap.count && heap[l] < heap[s] { s = l }
                if r < heap.count && heap[r] < heap[s] { s = r }
                if s == i { return }
                heap.swapAt(i, s); i = s
            }
        }
        for i in 0..<count {
            let val = x[i]
            if heap.count < k {
                heap.append(val)
                var c = heap.count - 1
                while c > 0 {
                    let parent = (c - 1) / 2
                    if heap[parent] <= heap[c] { break }
                    heap.swapAt(parent, c); c = parent
                }
            } else if val > heap[0] {
                heap[0] = val
                siftDown(0)
            }
        }
        return heap[0]
    }
}
