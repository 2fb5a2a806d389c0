// Greedy generation against transformers' `generate` on the same weights (fixture written by
// scripts/reference/generate_fixture.py): a left-padded batch, with and without an EOS id.

import Foundation
import Llama
import XCTest

final class GenerationParityTests: XCTestCase {
    private struct Fixture: Decodable {
        struct Case: Decodable {
            let eos_token_id: Int32?
            let new_tokens: [[Int32]]
            let log_probs: [[Float]]
        }
        let prompts: [[Int32]]
        let max_new_tokens: Int
        let cases: [Case]
    }

    func testGreedyBatchMatchesTransformersGenerate() throws {
        let dir = try fixturesURL()
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: dir.appendingPathComponent("generate.json")))
        let model = try LlamaModel.load(directory: dir.appendingPathComponent("untied"))
        XCTAssertEqual(fixture.cases.count, 2)
        for c in fixture.cases {
            let config = GenerationConfig(maxNewTokens: fixture.max_new_tokens, temperature: 0, eosTokenId: c.eos_token_id, padTokenId: 0)
            let out = try generate(model: model, prompts: fixture.prompts, config: config)
            XCTAssertEqual(out.tokens, c.new_tokens, "eos \(String(describing: c.eos_token_id))")
            for (row, (got, want)) in zip(out.logProbs, c.log_probs).enumerated() {
                XCTAssertEqual(got.count, want.count)
                for (g, w) in zip(got, want) { XCTAssertEqual(g, w, accuracy: 1e-4, "row \(row)") }
            }
            if let eos = c.eos_token_id {
                XCTAssertEqual(out.finishedWithEOS, c.new_tokens.map { $0.last == eos })
            }
        }
    }
}
