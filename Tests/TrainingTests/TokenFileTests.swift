import Foundation
import XCTest
@testable import Training

final class TokenFileTests: XCTestCase {
    func testRoundTripUInt16WithDocumentsAndSeparator() throws {
        let dir = TestDirectory()
        let w = try TokenFileWriter(base: dir.path("tokens"), vocabSize: 300, tokenizerFingerprint: "sha256:abc", separatorToken: 0)
        try w.append([5, 6, 7], id: "a")
        try w.append([], id: "empty")
        try w.append([299, 1], id: "b")
        let h = try w.finish()
        XCTAssertEqual(h.dtype, .uint16)
        XCTAssertEqual(h.count, 3 + 1 + 1 + 2 + 1)
        XCTAssertEqual(h.documents, [TokenDocumentSpan(id: "a", start: 0, count: 3), TokenDocumentSpan(id: "empty", start: 4, count: 0),
                                     TokenDocumentSpan(id: "b", start: 5, count: 2)])
        XCTAssertEqual(dir.entries, ["tokens.bin", "tokens.json"], "no temporary file left behind")
        // Raw layout: little-endian uint16, nanoGPT/numpy compatible.
        let raw = try Data(contentsOf: dir.path("tokens.bin"))
        XCTAssertEqual(Array(raw.prefix(4)), [5, 0, 6, 0])
        XCTAssertEqual(Array(raw[10..<12]), [0x2B, 0x01])  // 299
        let r = try TokenFileReader(base: dir.path("tokens"))
        XCTAssertEqual(r.header, h)
        XCTAssertEqual(r.tokens(0..<r.count), [5, 6, 7, 0, 0, 299, 1, 0])
        XCTAssertEqual(r.document(at: 2), [299, 1])
        XCTAssertEqual(r[5], 299)
        // The header JSON uses snake_case keys.
        let json = try String(contentsOf: dir.path("tokens.json"), encoding: .utf8)
        XCTAssertTrue(json.contains("\"vocab_size\" : 300"))
        XCTAssertTrue(json.contains("\"tokenizer_fingerprint\" : \"sha256:abc\""))
    }

    func testLargeVocabularyUsesUInt32() throws {
        let dir = TestDirectory()
        let w = try TokenFileWriter(base: dir.path("t"), vocabSize: 70_000, tokenizerFingerprint: "x")
        try w.append([69_999, 65_536, 3], id: "d")
        XCTAssertEqual(try w.finish().dtype, .uint32)
        let r = try TokenFileReader(base: dir.path("t"))
        XCTAssertEqual(r.tokens(0..<3), [69_999, 65_536, 3])
        XCTAssertEqual(try Data(contentsOf: dir.path("t.bin")).count, 12)
        XCTAssertEqual(TokenDType.forVocabulary(size: 65_535), .uint16)
        XCTAssertEqual(TokenDType.forVocabulary(size: 65_536), .uint32)
    }

    func testOutOfVocabularyTokenIsRejectedAndNothingPublished() throws {
        let dir = TestDirectory()
        do {
            let w = try TokenFileWriter(base: dir.path("t"), vocabSize: 10, tokenizerFingerprint: "x")
            try w.append([1, 2], id: "ok")
            XCTAssertThrowsError(try w.append([3, 10], id: "book-7")) {
                XCTAssertEqual($0 as? TrainingError, .tokenOutOfRange(token: 10, vocabSize: 10, document: "book-7"))
            }
        }
        XCTAssertEqual(dir.entries, [], "an unfinished writer leaves nothing behind")
    }

    func testTruncatedDataIsReported() throws {
        let dir = TestDirectory()
        let w = try TokenFileWriter(base: dir.path("t"), vocabSize: 10, tokenizerFingerprint: "x")
        try w.append([1, 2, 3], id: "d")
        try w.finish()
        try Data([1, 0, 2, 0]).write(to: dir.path("t.bin"))
        XCTAssertThrowsError(try TokenFileReader(base: dir.path("t"))) { e in
            guard case .invalidTokenFile? = e as? TrainingError else { return XCTFail("\(e)") }
            XCTAssertTrue("\(e)".contains("holds 4 bytes"))
        }
        XCTAssertThrowsError(try TokenFileReader(base: dir.path("missing"))) { e in
            guard case .invalidTokenFile? = e as? TrainingError else { return XCTFail("\(e)") }
        }
    }
}

final class TokenDatasetBuilderTests: XCTestCase {
    let docs: [(id: String, tokens: [Int32])] = [("11", [1, 2, 3]), ("12", [4, 5]), ("16", [6, 7, 8, 9]), ("21", [10])]

    func testHoldsOutWholeDocumentsByID() throws {
        let dir = TestDirectory()
        let b = TokenDatasetBuilder(vocabSize: 50, tokenizerFingerprint: "fp", separatorToken: 0)
        let split = try b.build(documents: docs, holdout: .ids(["16"]), into: dir.url)
        XCTAssertEqual(split.validation.documents.map(\.id), ["16"])
        XCTAssertEqual(split.train.documents.map(\.id), ["11", "12", "21"])
        let v = try TokenFileReader(base: split.validationBase)
        XCTAssertEqual(v.tokens(0..<v.count), [6, 7, 8, 9, 0])
        let t = try TokenFileReader(base: split.trainBase)
        XCTAssertEqual(t.tokens(0..<t.count), [1, 2, 3, 0, 4, 5, 0, 10, 0])
        XCTAssertEqual(dir.entries, ["train.bin", "train.json", "validation.bin", "validation.json"])
    }

    func testSeededFractionIsDeterministicAndKeepsTraining() throws {
        let ids = (1...20).map(String.init)
        let a = try HoldoutSelection.fraction(0.1, seed: 7).select(from: ids)
        XCTAssertEqual(a, try HoldoutSelection.fraction(0.1, seed: 7).select(from: ids))
        XCTAssertEqual(a.count, 2)
        XCTAssertNotEqual(a, try HoldoutSelection.fraction(0.1, seed: 8).select(from: ids))
        XCTAssertEqual(try HoldoutSelection.fraction(0.99, seed: 1).select(from: ["a", "b"]).count, 1)
    }

    func testBadSplitsAndEmptyCorpus() {
        let dir = TestDirectory()
        let b = TokenDatasetBuilder(vocabSize: 50, tokenizerFingerprint: "fp")
        XCTAssertThrowsError(try b.build(documents: docs, holdout: .ids(["999"]), into: dir.url)) { e in
            guard case .invalidSplit? = e as? TrainingError else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try b.build(documents: docs, holdout: .ids(docs.map(\.id)), into: dir.url))
        XCTAssertThrowsError(try b.build(documents: [], holdout: .fraction(0.5, seed: 1), into: dir.url)) {
            XCTAssertEqual($0 as? TrainingError, .emptyCorpus)
        }
        XCTAssertThrowsError(try b.build(documents: [("a", []), ("b", [])], holdout: .ids(["a"]), into: dir.url)) {
            XCTAssertEqual($0 as? TrainingError, .emptyCorpus)
        }
        XCTAssertThrowsError(try HoldoutSelection.fraction(0, seed: 1).select(from: ["a", "b"]))
    }

    func testGutenbergManifest() throws {
        let text = """
            pg_id\tfile\ttitle\tauthor\tsource_repo\tbytes_utf8
            11\tbooks/pg11.txt\tAlice’s Adventures in Wonderland\tLewis Carroll\tGITenberg/x\t150404
            1342\tbooks/pg1342.txt\tPride and Prejudice\tJane Austen\tGITenberg/y\t700000

            """
        let books = try GutenbergBook.parseManifest(text)
        XCTAssertEqual(books.map(\.id), ["11", "1342"])
        XCTAssertEqual(books[1].file, "books/pg1342.txt")
        XCTAssertEqual(books[0].title, "Alice’s Adventures in Wonderland")
        XCTAssertThrowsError(try GutenbergBook.parseManifest("pg_id\tfile\ttitle\tauthor\n11\tbooks/pg11.txt\n", path: "m.tsv")) {
            XCTAssertEqual($0 as? TrainingError, .invalidManifest(path: "m.tsv", line: 2, reason: "expected 4 tab-separated fields, got 2"))
        }
        XCTAssertThrowsError(try GutenbergBook.parseManifest("id\tfile\n"))
    }
}
