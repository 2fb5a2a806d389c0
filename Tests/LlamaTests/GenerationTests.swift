// KV-cache decoding and generation: the cached forward equals the full forward, batching does not change
// a prompt's output, EOS and budget stopping, log-probabilities, bad input.

import Foundation
@testable import Llama
import Tensors
import XCTest

final class GenerationTests: XCTestCase {
    /// A tiny GQA model with a large init range so greedy choices are not near-ties.
    private func tinyModel(tied: Bool = false, seed: UInt64 = 7) throws -> LlamaModel {
        let cfg = LlamaConfig(vocabSize: 61, hiddenSize: 32, intermediateSize: 48, numHiddenLayers: 2, numAttentionHeads: 4,
                              numKeyValueHeads: 2, maxPositionEmbeddings: 64, tieWordEmbeddings: tied, initializerRange: 0.15)
        return try LlamaModel(config: cfg, seed: seed)
    }

    private func maxDiff(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var m: Float = 0
        for i in 0..<n { m = max(m, abs(a[i] - b[i])) }
        return m
    }

    // MARK: Cached forward

    /// Prefill + one token per step gives the logits of the full forward on the whole left-padded batch.
    func testIncrementalLogitsEqualFullForward() throws {
        for tied in [false, true] {
            let model = try tinyModel(tied: tied)
            let v = model.config.vocabSize
            let prompts: [[Int32]] = [[3, 9, 14, 2, 7], [11, 4], [5, 6, 8]]
            let continuation: [[Int32]] = [[1, 20, 33, 40], [7, 7, 9, 2], [60, 0, 5, 12]]
            let pad: Int32 = 0
            let input = LlamaInput.leftPadded(prompts, padToken: pad)
            let tp = input.seqLen, steps = continuation[0].count
            let cache = LlamaKVCache(config: model.config, batch: 3, capacity: tp + steps, maxQueryLength: tp)
            let pre = try model.forward(appending: input.tokens, queryLength: tp, attentionMask: input.attentionMask,
                                        cache: cache, allLogits: true).clone()
            var stepLogits: [Tensor] = []
            for s in 0..<steps {
                stepLogits.append(try model.forward(appending: continuation.map { $0[s] }, queryLength: 1, cache: cache).clone())
            }
            let full = LlamaInput.leftPadded(zip(prompts, continuation).map { $0 + $1 }, padToken: pad)
            XCTAssertEqual(full.seqLen, tp + steps)
            let logits = model.forward(full).logits!
            let t = full.seqLen
            for b in 0..<3 {
                // Prompt positions (real ones only; pad rows are unused).
                let padCount = tp - prompts[b].count
                for i in padCount..<tp {
                    let d = maxDiff(pre.data + (b * tp + i) * v, logits.data + (b * t + i) * v, v)
                    XCTAssertLessThanOrEqual(d, 1e-4, "tied \(tied) row \(b) prompt position \(i)")
                }
                for s in 0..<steps {
                    let d = maxDiff(stepLogits[s].data + b * v, logits.data + (b * t + tp + s) * v, v)
                    XCTAssertLessThanOrEqual(d, 1e-4, "tied \(tied) row \(b) step \(s)")
                }
            }
        }
    }

    func testCachedForwardRejectsBadInput() throws {
        let model = try tinyModel()
        let cache = LlamaKVCache(config: model.config, batch: 2, capacity: 4, maxQueryLength: 3)
        XCTAssertThrowsError(try model.forward(appending: [1, 2, 3], queryLength: 2, cache: cache))
        XCTAssertThrowsError(try model.forward(appending: [1, 99], queryLength: 1, cache: cache))
        XCTAssertThrowsError(try model.forward(appending: [Int32](repeating: 1, count: 8), queryLength: 4, cache: cache))
        _ = try model.forward(appending: [1, 2, 3, 4, 5, 6], queryLength: 3, cache: cache)
        _ = try model.forward(appending: [1, 2], queryLength: 1, cache: cache)
        XCTAssertThrowsError(try model.forward(appending: [1, 2], queryLength: 1, cache: cache)) { error in
            XCTAssertTrue("\(error)".contains("KV cache full"), "\(error)")
        }
        cache.reset()
        XCTAssertEqual(cache.length, 0)
        XCTAssertNoThrow(try model.forward(appending: [1, 2], queryLength: 1, cache: cache))
    }

    // MARK: Generation

    /// A prompt's greedy output is the same alone and batched with prompts of other lengths (left padding).
    func testGreedyOutputDoesNotDependOnBatch() throws {
        let model = try tinyModel()
        let prompts: [[Int32]] = [[3, 9, 14, 2, 7, 30, 31], [11], [5, 6, 8], [40, 41, 42, 43]]
        let config = GenerationConfig(maxNewTokens: 16, temperature: 0)
        let batched = try generate(model: model, prompts: prompts, config: config)
        for (i, p) in prompts.enumerated() {
            let alone = try generate(model: model, prompts: [p], config: config)
            XCTAssertEqual(alone.tokens[0], batched.tokens[i], "prompt \(i)")
            XCTAssertEqual(alone.tokens[0].count, 16)
            for (a, b) in zip(alone.logProbs[0], batched.logProbs[i]) { XCTAssertEqual(a, b, accuracy: 1e-4) }
        }
        // Reversed order and a duplicate: same outputs.
        let reversed = try generate(model: model, prompts: prompts.reversed() + [prompts[1]], config: config)
        XCTAssertEqual(Array(reversed.tokens[0..<4].reversed()), batched.tokens)
        XCTAssertEqual(reversed.tokens[4], batched.tokens[1])
    }

    /// Greedy generation equals argmax of the full forward re-run on prompt + generated tokens, and the
    /// reported log-probs equal log_softmax of those logits (what PPO rescoring computes).
    func testGreedyMatchesFullForwardArgmaxAndLogProbs() throws {
        let model = try tinyModel(seed: 3)
        let v = model.config.vocabSize
        let prompt: [Int32] = [4, 8, 15, 16, 23, 42]
        let out = try generate(model: model, prompts: [prompt], config: GenerationConfig(maxNewTokens: 10))
        let seq = prompt + out.tokens[0]
        let logits = model.forward(LlamaInput(tokens: seq, batch: 1, seqLen: seq.count)).logits!
        for (s, tok) in out.tokens[0].enumerated() {
            let row = logits.data + (prompt.count - 1 + s) * v
            var arg = 0
            for j in 0..<v where row[j] > row[arg] { arg = j }
            XCTAssertEqual(Int32(arg), tok, "step \(s)")
            var m = -Float.infinity
            for j in 0..<v { m = max(m, row[j]) }
            var z: Double = 0
            for j in 0..<v { z += Double(expf(row[j] - m)) }
            XCTAssertEqual(out.logProbs[0][s], row[Int(tok)] - m - Float(log(z)), accuracy: 1e-4)
        }
    }

    /// Sampled log-probs are under softmax(logits / T) over the whole vocabulary.
    func testSampledLogProbsUseTemperature() throws {
        let model = try tinyModel(seed: 5)
        let v = model.config.vocabSize
        let prompts: [[Int32]] = [[1, 2, 3], [9]]
        let cfg = GenerationConfig(maxNewTokens: 6, temperature: 0.7, topK: 20, topP: 0.9, seed: 11)
        let out = try generate(model: model, prompts: prompts, config: cfg)
        for (i, p) in prompts.enumerated() {
            let seq = p + out.tokens[i]
            let logits = model.forward(LlamaInput(tokens: seq, batch: 1, seqLen: seq.count)).logits!
            for (s, tok) in out.tokens[i].enumerated() {
                let row = (0..<v).map { logits[(p.count - 1 + s) * v + $0] / 0.7 }
                let m = row.max()!
                let lse = m + Float(log(row.reduce(0.0) { $0 + Double(expf($1 - m)) }))
                XCTAssertEqual(out.logProbs[i][s], row[Int(tok)] - lse, accuracy: 1e-4)
            }
        }
    }

    /// Same seed, same samples; another seed, other samples; a row's sample does not depend on the
    /// other rows (per-row generators).
    func testSamplingIsSeededPerRow() throws {
        let model = try tinyModel(seed: 9)
        let prompts: [[Int32]] = [[1, 2, 3], [9, 10], [17]]
        let cfg = GenerationConfig(maxNewTokens: 12, temperature: 1.3, seed: 42)
        let a = try generate(model: model, prompts: prompts, config: cfg)
        XCTAssertEqual(a, try generate(model: model, prompts: prompts, config: cfg))
        var other = cfg; other.seed = 43
        XCTAssertNotEqual(a.tokens, try generate(model: model, prompts: prompts, config: other).tokens)
        let firstAlone = try generate(model: model, prompts: [prompts[0]], config: cfg)
        XCTAssertEqual(firstAlone.tokens[0], a.tokens[0])
    }

    /// top-k 1 and a tiny top-p are greedy.
    func testTopKOneAndTinyTopPAreGreedy() throws {
        let model = try tinyModel(seed: 2)
        let prompts: [[Int32]] = [[5, 4, 3], [7]]
        let greedy = try generate(model: model, prompts: prompts, config: GenerationConfig(maxNewTokens: 8))
        let k1 = try generate(model: model, prompts: prompts, config: GenerationConfig(maxNewTokens: 8, temperature: 0.9, topK: 1, seed: 1))
        let p0 = try generate(model: model, prompts: prompts, config: GenerationConfig(maxNewTokens: 8, temperature: 2, topP: 1e-6, seed: 1))
        XCTAssertEqual(k1.tokens, greedy.tokens)
        XCTAssertEqual(p0.tokens, greedy.tokens)
    }

    /// A row stops right after its first EOS (included); other rows continue to the budget.
    func testStopsAtEOSPerRow() throws {
        let model = try tinyModel(seed: 4)
        let prompts: [[Int32]] = [[3, 9, 14], [11, 12, 13, 50]]
        let free = try generate(model: model, prompts: prompts, config: GenerationConfig(maxNewTokens: 10))
        let eos = free.tokens[0][3]
        let firstEOS0 = free.tokens[0].firstIndex(of: eos)!
        let stopped = try generate(model: model, prompts: prompts,
                                   config: GenerationConfig(maxNewTokens: 10, eosTokenId: eos, padTokenId: 0))
        XCTAssertEqual(stopped.tokens[0], Array(free.tokens[0][...firstEOS0]))
        XCTAssertTrue(stopped.finishedWithEOS[0])
        if let firstEOS1 = free.tokens[1].firstIndex(of: eos) {
            XCTAssertEqual(stopped.tokens[1], Array(free.tokens[1][...firstEOS1]))
        } else {
            XCTAssertEqual(stopped.tokens[1], free.tokens[1], "the other row is not affected by a finished row")
            XCTAssertFalse(stopped.finishedWithEOS[1])
        }
        XCTAssertEqual(stopped.logProbs[0].count, stopped.tokens[0].count)
    }

    func testGenerateRejectsBadInput() throws {
        let model = try tinyModel()
        let ok = GenerationConfig(maxNewTokens: 4)
        XCTAssertThrowsError(try generate(model: model, prompts: [], config: ok))
        XCTAssertThrowsError(try generate(model: model, prompts: [[1], []], config: ok))
        XCTAssertThrowsError(try generate(model: model, prompts: [[1, 61]], config: ok))
        XCTAssertThrowsError(try generate(model: model, prompts: [[1]], config: GenerationConfig(maxNewTokens: 0)))
        XCTAssertThrowsError(try generate(model: model, prompts: [[1]], config: GenerationConfig(maxNewTokens: 64))) { e in
            XCTAssertTrue("\(e)".contains("max_position_embeddings"), "\(e)")
        }
        XCTAssertThrowsError(try generate(model: model, prompts: [[1]], config: GenerationConfig(temperature: -1)))
        XCTAssertThrowsError(try generate(model: model, prompts: [[1]], config: GenerationConfig(topP: 0)))
        XCTAssertThrowsError(try generate(model: model, prompts: [[1]], config: GenerationConfig(eosTokenId: 70)))
    }
}
