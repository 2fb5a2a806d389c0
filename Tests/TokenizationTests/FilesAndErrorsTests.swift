import Foundation
import XCTest
@testable import Tokenization

/// Saving and loading, and typed errors for bad input.
final class FilesAndErrorsTests: XCTestCase {
    private var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("tok-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    func testSaveThenLoadKeepsEverything() throws {
        let tok = try BPETokenizer.train(texts: ["the cat sat on the mat, the end.", "cats and mats"], vocabSize: 270,
                                         specialTokens: SpecialTokens(extra: ["<|user|>"]), logger: nil)
        let dir = tmp.appendingPathComponent("a/b/tok")
        try tok.save(directory: dir)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        XCTAssertEqual(names, ["special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"])
        let back = try BPETokenizer(directory: dir)
        XCTAssertEqual(back.fingerprint, tok.fingerprint)
        XCTAssertEqual(back.merges.map { $0.0 + " " + $0.1 }, tok.merges.map { $0.0 + " " + $0.1 })
        XCTAssertEqual(back.encode("the cats sat"), tok.encode("the cats sat"))
        XCTAssertEqual(back.padTokenId, 2)
        // Saving again into the existing directory replaces the files in place.
        try tok.save(directory: dir)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), names)
        XCTAssertEqual(try Data(contentsOf: dir.appendingPathComponent("tokenizer.json")), tok.canonicalJSON)
    }

    func testFingerprintIsSHA256OfCanonicalJSON() throws {
        let tok = try BPETokenizer(tokenizerJSON: Fixtures.url("hf-trained/tokenizer.json"))
        XCTAssertEqual(tok.fingerprint.count, 64)
        XCTAssertEqual(sha256Hex(Data("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(tok.fingerprint, sha256Hex(tok.canonicalJSON))
        let other = try BPETokenizer(tokenizerJSON: Fixtures.url("hf-prefix/tokenizer.json"))
        XCTAssertNotEqual(tok.fingerprint, other.fingerprint)
    }

    func testLegacyStringMergesAreRead() throws {
        var text = try String(contentsOf: Fixtures.url("hf-prefix/tokenizer.json"), encoding: .utf8)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        var model = try XCTUnwrap(json["model"] as? [String: Any])
        let merges = try XCTUnwrap(model["merges"] as? [[String]])
        model["merges"] = merges.map { $0.joined(separator: " ") }
        var root = json
        root["model"] = model
        text = String(decoding: try JSONSerialization.data(withJSONObject: root), as: UTF8.self)
        let legacy = try BPETokenizer(jsonData: Data(text.utf8))
        let modern = try BPETokenizer(tokenizerJSON: Fixtures.url("hf-prefix/tokenizer.json"))
        XCTAssertEqual(legacy.fingerprint, modern.fingerprint)
    }

    func testBadTrainingInputThrowsTypedErrors() throws {
        XCTAssertThrowsError(try BPETokenizer.train(texts: [""], vocabSize: 1000, logger: nil)) { e in
            guard case .emptyCorpus = e as? TokenizerError else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try BPETokenizer.train(texts: ["abc"], vocabSize: 258, logger: nil)) { e in
            XCTAssertEqual(e as? TokenizerError, .vocabSizeTooSmall(requested: 258, minimum: 259))
        }
        XCTAssertThrowsError(try BPETokenizer.train(texts: ["abc"], vocabSize: 300, specialTokens: SpecialTokens(pad: "<|end_of_text|>"), logger: nil)) { e in
            guard case .invalidSpecialToken = e as? TokenizerError else { return XCTFail("\(e)") }
        }
        let missing = tmp.appendingPathComponent("nope.txt")
        XCTAssertThrowsError(try BPETokenizer.train(files: [missing], vocabSize: 1000, logger: nil)) { e in
            guard case .corpusUnreadable(let path, _) = e as? TokenizerError else { return XCTFail("\(e)") }
            XCTAssertEqual(path, missing.path)
        }
        let empty = tmp.appendingPathComponent("empty.txt")
        try Data().write(to: empty)
        XCTAssertThrowsError(try BPETokenizer.train(files: [empty], vocabSize: 1000, logger: nil)) { e in
            guard case .emptyCorpus = e as? TokenizerError else { return XCTFail("\(e)") }
        }
        // A tiny corpus stops early with a smaller vocabulary rather than failing.
        let small = try BPETokenizer.train(texts: ["abab"], vocabSize: 1000, logger: nil)
        XCTAssertEqual(small.vocabSize, 259 + 2)  // "ab", then "abab"
        XCTAssertEqual(small.encode("abab"), [small.id(forToken: "abab")!])
    }

    func testMalformedTokenizerJSONThrowsTypedErrors() throws {
        func check(_ json: String, _ expectKey: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try BPETokenizer(jsonData: Data(json.utf8), path: "t.json"), file: file, line: line) { e in
                switch e as? TokenizerError {
                case let .malformedTokenizerFile(path, key, _)?, let .unsupported(path, key, _)?:
                    XCTAssertEqual(path, "t.json", file: file, line: line)
                    XCTAssertEqual(key, expectKey, file: file, line: line)
                default: XCTFail("\(e)", file: file, line: line)
                }
            }
        }
        check("{not json", "(root)")
        check("[1,2]", "(root)")
        check("{}", "model")
        check(#"{"model": {"type": "BPE", "vocab": {"a": 0}}}"#, "model.merges")
        check(#"{"model": {"type": "WordPiece", "vocab": {}}}"#, "model.type")
        check(#"{"model": {"type": "BPE", "vocab": {"a": -1}, "merges": []}}"#, "model.vocab[\"a\"]")
        check(#"{"pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": [["a", "b"]]}}"#,
              "model.merges[0]")
        check(#"{"normalizer": {"type": "NFC"}, "model": {"type": "BPE", "vocab": {}, "merges": []}}"#, "normalizer")
        check(#"{"pre_tokenizer": {"type": "Whitespace"}, "model": {"type": "BPE", "vocab": {}, "merges": []}}"#, "pre_tokenizer")
        let missing = tmp.appendingPathComponent("absent")
        XCTAssertThrowsError(try BPETokenizer(directory: missing)) { e in
            guard case .malformedTokenizerFile(_, "(file)", _) = e as? TokenizerError else { return XCTFail("\(e)") }
        }
    }

    func testSaveOntoAFileFailsWithoutDamage() throws {
        let tok = try BPETokenizer.train(texts: ["hello hello"], vocabSize: 262, logger: nil)
        let file = tmp.appendingPathComponent("plain")
        try Data("keep".utf8).write(to: file)
        XCTAssertThrowsError(try tok.save(directory: file)) { e in
            guard case .writeFailed = e as? TokenizerError else { return XCTFail("\(e)") }
        }
        XCTAssertEqual(try Data(contentsOf: file), Data("keep".utf8))
    }
}
