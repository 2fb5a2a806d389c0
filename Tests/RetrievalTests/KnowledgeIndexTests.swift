import Foundation
import GRDB
import XCTest
@testable import Retrieval

final class KnowledgeIndexTests: XCTestCase {
    func testManifestRecordsHowTheIndexWasBuilt() throws {
        let index = try buildElementsIndex(self, chunkSize: 64, overlap: 16)
        let bytes = try Data(contentsOf: try Fixtures.url("elements_kb_slice", "jsonl"))
        XCTAssertEqual(index.manifest.formatVersion, KnowledgeIndex.formatVersion)
        XCTAssertEqual(index.manifest.tokenizerFingerprint, "whitespace-v1")
        XCTAssertEqual(index.manifest.chunking, ChunkingOptions(chunkSize: 64, overlap: 16))
        XCTAssertEqual(index.manifest.sourceDigest, KnowledgeIndex.sha256Digest(bytes))
        XCTAssertTrue(index.manifest.sourceDigest.hasPrefix("sha256:"))
        XCTAssertEqual(index.manifest.documentCount, 20)
        let chunker = try Chunker(options: ChunkingOptions(chunkSize: 64, overlap: 16), tokenizer: WhitespaceTokenizer())
        let expected = try KnowledgeBase.load(contentsOf: try Fixtures.url("elements_kb_slice", "jsonl")).flatMap(chunker.chunks(of:))
        XCTAssertEqual(index.manifest.chunkCount, expected.count)
        XCTAssertEqual(try index.allChunks().map(\.text), expected.map(\.text))
        XCTAssertEqual(try index.document(id: "helium")?.metadata["symbol"], "He")
        XCTAssertNil(try index.document(id: "unobtainium"))
    }

    func testIndexReopensFromItsDirectory() throws {
        let index = try buildElementsIndex(self)
        let reopened = try KnowledgeIndex(contentsOf: KnowledgeIndex.indexURL(index.url.deletingLastPathComponent().path))
        XCTAssertEqual(reopened.manifest, index.manifest)
        XCTAssertEqual(try reopened.search("atomic number of Neon", topK: 2), try index.search("atomic number of Neon", topK: 2))
    }

    func testSearchFindsTheDocumentOfTheQuestion() throws {
        let index = try buildElementsIndex(self)
        for (question, document) in [
            ("What is the atomic weight of Sodium?", "sodium"),
            ("Which element has the chemical symbol Mg?", "magnesium"),
            ("What is the chemical symbol of Potassium?", "potassium"),
            ("Which gas was discovered by Henry Cavendish in 1776?", "hydrogen"),
        ] {
            let results = try index.search(question, topK: 3)
            XCTAssertEqual(results.first?.documentID, document, question)
            XCTAssertEqual(results.map(\.score), results.map(\.score).sorted(by: >), "best first")
            XCTAssertTrue(results.allSatisfy { $0.score > 0 })
        }
    }

    func testScoresAreBM25AsComputedBySQLite() throws {
        // Reference: FTS5's bm25() queried directly with a hand-written MATCH expression.
        let index = try buildElementsIndex(self)
        XCTAssertEqual(index.titleWeight, KnowledgeIndex.defaultTitleWeight)
        let results = try index.search("atomic weight of Sodium", topK: 5)
        let database = try DatabaseQueue(path: index.url.path)
        let reference = try database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT rowid, -bm25(chunks_fts, ?, 1.0) FROM chunks_fts
                WHERE chunks_fts MATCH 'atomic OR weight OR sodium' ORDER BY bm25(chunks_fts, ?, 1.0), rowid LIMIT 5
                """, arguments: [index.titleWeight, index.titleWeight]).map { (row: Row) -> (Int64, Double) in (row[0], row[1]) }
        }
        XCTAssertEqual(results.map(\.chunkID), reference.map(\.0))
        for (result, expected) in zip(results, reference) { XCTAssertEqual(result.score, expected.1, accuracy: 1e-9) }
    }

    func testQuestionsWithFTS5SyntaxNeverError() throws {
        let index = try buildElementsIndex(self)
        let hostile = [
            "\"", "\"\"", "\"unterminated", "What is \"the\" symbol of \"Neon\"?", "AND", "OR", "NOT", "NEAR",
            "NEAR(neon argon, 5)", "neon AND", "OR neon", "NOT neon", "neon NOT argon", "*", "neo*", "* neon",
            "(neon", "neon)", "()", "((neon))", "symbol:neon", "title:Neon", ":", "^neon", "^", "-neon", "-", "- - -",
            "neon + argon", "{title body}: neon", "neon\u{0}argon", "'; DROP TABLE chunks; --", "", "   ", "???",
            "a an the of is", "Ne\u{301}on", "氖是什么", "🧪 neon",
        ]
        for question in hostile {
            XCTAssertNoThrow(try index.search(question, topK: 3), "\(question.debugDescription)")
        }
        XCTAssertEqual(try index.search("(neon)", topK: 1).first?.documentID, "neon")
        XCTAssertEqual(try index.search("Which element has the chemical symbol He?", topK: 1).first?.documentID, "helium")
        XCTAssertEqual(try index.search("title: Neon", topK: 1).first?.documentID, "neon")
        XCTAssertEqual(try index.search("neon\u{0}argon", topK: 2).map(\.documentID).sorted(), ["argon", "neon"])
        XCTAssertEqual(try index.search("^neon*", topK: 1).first?.documentID, "neon")
        XCTAssertEqual(try index.search("???", topK: 3), [])
        XCTAssertEqual(try index.search("", topK: 3), [])
        // Only stop words: they are searched rather than dropped.
        XCTAssertNotNil(FTS5Query.orQuery(from: "what is the"))
    }

    func testQueryQuotesEveryWordAndDropsStopWordsAndEmptyTerms() {
        XCTAssertEqual(FTS5Query.orQuery(from: "What is the capital of \"Korea, North\"?"), #""capital" OR """Korea," OR "North""?""#)
        XCTAssertEqual(FTS5Query.orQuery(from: "neon and argon -- *"), #""neon" OR "argon""#)
        XCTAssertEqual(FTS5Query.orQuery(from: "neon AND argon"), #""neon" OR "AND" OR "argon""#)
        XCTAssertEqual(FTS5Query.orQuery(from: "Neon neon NEON"), #""Neon""#)
        XCTAssertEqual(FTS5Query.orQuery(from: "Is the symbol of it He or As?"), #""symbol" OR "He" OR "As?""#)
        XCTAssertNil(FTS5Query.orQuery(from: "* ( ) : ^ - \""))
        XCTAssertEqual(FTS5Query.quote("say \"hi\""), #""say ""hi""""#)
    }

    func testTopKMustBePositive() throws {
        let index = try buildElementsIndex(self)
        XCTAssertThrowsRetrievalError(.invalidParameter(name: "top_k", value: "0", expected: "at least 1"), try index.search("neon", topK: 0))
        XCTAssertEqual(try index.search("element", topK: 4).count, 4)
    }

    func testTokenizerMismatchIsAnError() throws {
        let index = try buildElementsIndex(self, tokenizer: CharacterTokenizer())
        XCTAssertNoThrow(try index.verifyTokenizer(fingerprint: "characters-v1"))
        XCTAssertThrowsRetrievalError(
            .tokenizerMismatch(path: index.url.path, indexFingerprint: "characters-v1", expectedFingerprint: "bpe:abc"),
            try index.verifyTokenizer(fingerprint: "bpe:abc"))
    }

    func testOpeningSomethingElseIsAClearError() throws {
        let directory = try temporaryDirectory(self)
        let missing = directory.appendingPathComponent("none.sqlite")
        XCTAssertThrowsRetrievalError(.invalidIndex(path: missing.path, reason: "no such file"), try KnowledgeIndex(contentsOf: missing))
        let garbage = directory.appendingPathComponent("garbage.sqlite")
        try Data("not a database".utf8).write(to: garbage)
        XCTAssertThrowsError(try KnowledgeIndex(contentsOf: garbage)) { error in
            guard case .invalidIndex(let path, _)? = error as? RetrievalError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, garbage.path)
        }
        let empty = directory.appendingPathComponent("empty.sqlite")
        try DatabaseQueue(path: empty.path).write { db in try db.execute(sql: "CREATE TABLE t (x)") }
        XCTAssertThrowsRetrievalError(.invalidIndex(path: empty.path, reason: "no manifest row"), try KnowledgeIndex(contentsOf: empty))
    }

    func testRebuildReplacesAtomicallyAndAFailedBuildKeepsTheOldIndex() throws {
        let directory = try temporaryDirectory(self)
        let url = directory.appendingPathComponent(KnowledgeIndex.fileName)
        let chunker = try Chunker(options: ChunkingOptions(chunkSize: 32, overlap: 8), tokenizer: WhitespaceTokenizer())
        let first = [KnowledgeDocument(id: "a", title: "Alpha", text: "alpha particles are helium nuclei")]
        try KnowledgeIndex.build(documents: first, chunker: chunker, at: url, logger: silentLogger)
        let before = try Data(contentsOf: url)

        let duplicate = [KnowledgeDocument(id: "b", title: "B", text: "x"), KnowledgeDocument(id: "b", title: "B", text: "y")]
        XCTAssertThrowsError(try KnowledgeIndex.build(documents: duplicate, chunker: chunker, at: url, logger: silentLogger))
        XCTAssertEqual(try Data(contentsOf: url), before, "a failed build must not touch the existing index")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [KnowledgeIndex.fileName], "no temporary file left")

        let second = [KnowledgeDocument(id: "g", title: "Gamma", text: "gamma rays are photons")]
        let rebuilt = try KnowledgeIndex.build(documents: second, chunker: chunker, at: url, logger: silentLogger)
        XCTAssertEqual(try rebuilt.search("photons", topK: 1).first?.documentID, "g")
        XCTAssertEqual(try rebuilt.search("helium", topK: 1), [])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [KnowledgeIndex.fileName])
    }

    func testBuildIsDeterministic() throws {
        let a = try buildElementsIndex(self)
        let b = try buildElementsIndex(self)
        XCTAssertEqual(try Data(contentsOf: a.url), try Data(contentsOf: b.url))
    }
}
