import Foundation
import XCTest
@testable import Tokenization

/// Our encoder, decoder and trainer against ids and files produced by Hugging Face tokenizers and
/// transformers (fixtures from scripts/reference/tokenizer_fixtures.py).
final class HuggingFaceParityTests: XCTestCase {
    private func checkParity(_ tok: BPETokenizer, _ exp: Fixtures.Expected, name: String) {
        let texts = Fixtures.texts
        XCTAssertEqual(texts.count, exp.ids.count, "fixture size")
        XCTAssertGreaterThan(texts.count, 40)
        for (i, t) in texts.enumerated() {
            // Hugging Face matches special tokens written in the text by default.
            XCTAssertEqual(tok.encode(t, allowSpecial: true), exp.ids[i], "\(name) ids for \(label(t))")
            XCTAssertEqual(tok.encode(t, allowSpecial: false), exp.ids_no_special_match[i], "\(name) ids (specials as text) for \(label(t))")
            XCTAssertEqual(tok.encodeWithPostProcessor(t, allowSpecial: true), exp.ids_post[i], "\(name) post-processed ids for \(label(t))")
            XCTAssertEqual(tok.decode(exp.ids[i]), exp.decoded[i], "\(name) decode for \(label(t))")
            XCTAssertEqual(tok.decode(exp.ids[i], skipSpecial: true), exp.decoded_skip[i], "\(name) decode skipping specials for \(label(t))")
        }
    }

    func testEncoderReproducesTokenizerTrainedByHuggingFace() throws {
        let exp = try Fixtures.expected()
        let tok = try BPETokenizer(tokenizerJSON: Fixtures.url("hf-trained/tokenizer.json"))
        XCTAssertEqual(tok.vocabSize, 1000)
        XCTAssertEqual(tok.bosTokenId, 0)
        checkParity(tok, exp.hf_trained, name: "hf-trained")
    }

    func testEncoderReproducesPrefixSpaceTokenizerWithoutSpecials() throws {
        let exp = try Fixtures.expected()
        let tok = try BPETokenizer(tokenizerJSON: Fixtures.url("hf-prefix/tokenizer.json"))
        XCTAssertNil(tok.bosTokenId)
        checkParity(tok, exp.hf_prefix, name: "hf-prefix")
    }

    func testOurSavedTokenizerGivesTheIdsOfTokenizersAndTransformers() throws {
        let exp = try Fixtures.expected()
        let tok = try BPETokenizer(directory: Fixtures.url("ours"))
        checkParity(tok, exp.ours, name: "ours")
        let transformersIds = try XCTUnwrap(exp.ours.transformers_ids)
        for (i, t) in Fixtures.texts.enumerated() {
            XCTAssertEqual(tok.encodeWithPostProcessor(t, allowSpecial: true), transformersIds[i], "transformers ids for \(label(t))")
        }
        XCTAssertEqual(tok.transformersDecodedCheck(exp), true)
    }

    func testTrainerReproducesHuggingFaceBpeTrainerByteForByte() throws {
        // Same corpus (one document), vocab 1000, our special tokens: the tokenizer.json written by
        // tokenizers' BpeTrainer and ours must be identical, merges and ids included.
        let tok = try BPETokenizer.train(texts: [Fixtures.corpusSlice], vocabSize: 1000, logger: nil)
        let hfBytes = try Fixtures.data("hf-trained/tokenizer.json")
        XCTAssertEqual(tok.vocabSize, 1000)
        XCTAssertEqual(tok.merges.count, 1000 - 3 - 256)
        let hf = try BPETokenizer(tokenizerJSON: Fixtures.url("hf-trained/tokenizer.json"))
        XCTAssertEqual(tok.merges.map { "\($0.0) \($0.1)" }, hf.merges.map { "\($0.0) \($0.1)" })
        XCTAssertEqual(tok.canonicalJSON, hfBytes)
        XCTAssertEqual(tok.fingerprint, hf.fingerprint)
    }

    func testRetrainingOursIsDeterministic() throws {
        let url = Fixtures.url("corpus-slice.txt")
        let tok = try BPETokenizer.train(files: [url], vocabSize: 1500, specialTokens: SpecialTokens(extra: ["<|sep|>"]), logger: nil)
        XCTAssertEqual(tok.canonicalJSON, try Fixtures.data("ours/tokenizer.json"))
    }
}

extension BPETokenizer {
    /// transformers' decode of our ids equals ours.
    fileprivate func transformersDecodedCheck(_ exp: Fixtures.ExpectedFile) -> Bool {
        guard let dec = exp.ours.transformers_decoded else { return false }
        for (i, ids) in exp.ours.ids.enumerated() where decode(ids) != dec[i] { return false }
        return true
    }
}
