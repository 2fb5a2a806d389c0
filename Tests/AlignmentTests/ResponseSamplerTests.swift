import Alignment
import Llama
import Training
import XCTest

/// The KV-cache sampler (PPO's default) against the full-recompute one: same greedy tokens, same
/// padding after EOS, reproducible from the random stream.
final class ResponseSamplerTests: XCTestCase {
    private let prompts: [[Int32]] = [[0, 5, 6, 7], [0, 9], [0, 3, 4, 11, 12, 13]]

    func testGreedyTokensEqualTheRecomputingSampler() throws {
        let model = try LlamaModel(config: tinyConfig(), seed: 11)
        var r1 = Xoshiro256StarStar(seed: 1), r2 = Xoshiro256StarStar(seed: 1)
        let cached = KVCacheSampler().sample(model: model, prompts: prompts, responseLength: 9, temperature: 0,
                                             eosTokenId: 1, padTokenId: 2, rng: &r1)
        let full = RecomputingSampler().sample(model: model, prompts: prompts, responseLength: 9, temperature: 0,
                                               eosTokenId: 1, padTokenId: 2, rng: &r2)
        XCTAssertEqual(cached, full)
        XCTAssertTrue(cached.allSatisfy { $0.count == 9 })
    }

    func testRowsArePaddedAfterEOSAndSamplingIsReproducible() throws {
        let model = try LlamaModel(config: tinyConfig(), seed: 5)
        var a = Xoshiro256StarStar(seed: 42), b = Xoshiro256StarStar(seed: 42)
        let first = KVCacheSampler().sample(model: model, prompts: prompts, responseLength: 12, temperature: 0.7,
                                            eosTokenId: 1, padTokenId: 2, rng: &a)
        let second = KVCacheSampler().sample(model: model, prompts: prompts, responseLength: 12, temperature: 0.7,
                                             eosTokenId: 1, padTokenId: 2, rng: &b)
        XCTAssertEqual(first, second)
        XCTAssertEqual(a, b, "the stream advances identically")
        for row in first {
            XCTAssertEqual(row.count, 12)
            if let eos = row.firstIndex(of: 1) {
                XCTAssertTrue(row[(eos + 1)...].allSatisfy { $0 == 2 }, "pad after EOS: \(row)")
            }
        }
    }
}
