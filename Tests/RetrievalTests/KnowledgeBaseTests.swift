import Foundation
import XCTest
@testable import Retrieval

final class KnowledgeBaseTests: XCTestCase {
    func testReadsIDTitleTextAndKeepsOtherKeysAsMetadata() throws {
        let documents = try KnowledgeBase.parse(jsonl([
            #"{"id": "france/government", "country": "France", "rank": 3, "title": "France - Government", "text": "Capital:\n    Paris"}"#,
            "",
            #"{"id": "no-title", "text": "Some text", "tags": ["a", "b"]}"#,
        ]), file: "kb.jsonl")
        XCTAssertEqual(documents, [
            KnowledgeDocument(id: "france/government", title: "France - Government", text: "Capital:\n    Paris",
                              metadata: ["country": "France", "rank": "3"]),
            KnowledgeDocument(id: "no-title", title: "no-title", text: "Some text", metadata: ["tags": #"["a","b"]"#]),
        ])
    }

    func testReadsTheFixtureFile() throws {
        let documents = try KnowledgeBase.load(contentsOf: try Fixtures.url("elements_kb_slice", "jsonl"))
        XCTAssertEqual(documents.count, 20)
        XCTAssertEqual(documents.first?.id, "hydrogen")
        XCTAssertEqual(documents.first?.metadata["symbol"], "H")
        XCTAssertTrue(documents.first?.text.contains("Atomic weight: 1.0079") ?? false)
    }

    func testLineWithoutTextIsAnErrorWithItsLine() {
        XCTAssertThrowsRetrievalError(
            .missingField(file: "kb.jsonl", line: 2, field: "text", expected: "a non-empty string"),
            try KnowledgeBase.parse(jsonl([#"{"id": "a", "text": "x"}"#, #"{"id": "b", "text": "  \n "}"#]), file: "kb.jsonl"))
        XCTAssertThrowsRetrievalError(
            .missingField(file: "kb.jsonl", line: 1, field: "text", expected: "a non-empty string"),
            try KnowledgeBase.parse(jsonl([#"{"id": "a", "title": "A"}"#]), file: "kb.jsonl"))
    }

    func testMissingOrNonStringIDIsAnError() {
        XCTAssertThrowsRetrievalError(
            .missingField(file: "kb.jsonl", line: 1, field: "id", expected: "a non-empty string"),
            try KnowledgeBase.parse(jsonl([#"{"id": 7, "text": "x"}"#]), file: "kb.jsonl"))
    }

    func testDuplicateIDNamesBothLines() {
        XCTAssertThrowsRetrievalError(
            .duplicateID(file: "kb.jsonl", line: 4, id: "a", firstLine: 1),
            try KnowledgeBase.parse(
                jsonl([#"{"id": "a", "text": "x"}"#, #"{"id": "b", "text": "y"}"#, "", #"{"id": "a", "text": "z"}"#]),
                file: "kb.jsonl"))
    }

    func testMalformedJSONNamesItsLine() {
        XCTAssertThrowsRetrievalError(
            .malformedJSON(file: "kb.jsonl", line: 2, reason: "invalid JSON"),
            try KnowledgeBase.parse(jsonl([#"{"id": "a", "text": "x"}"#, #"{"id": "b", "text": "#]), file: "kb.jsonl"))
        XCTAssertThrowsRetrievalError(
            .malformedJSON(file: "kb.jsonl", line: 1, reason: "a JSON value that is not an object"),
            try KnowledgeBase.parse(jsonl(["[1, 2]"]), file: "kb.jsonl"))
    }

    func testEmptyAndMissingFilesAreErrors() {
        XCTAssertThrowsRetrievalError(.emptyFile(file: "kb.jsonl"), try KnowledgeBase.parse(jsonl(["", "  "]), file: "kb.jsonl"))
        XCTAssertThrowsError(try KnowledgeBase.load(contentsOf: URL(fileURLWithPath: "/nonexistent/kb.jsonl"))) { error in
            guard case .unreadable(let file, _)? = error as? RetrievalError else { return XCTFail("\(error)") }
            XCTAssertEqual(file, "/nonexistent/kb.jsonl")
        }
    }

    func testErrorMessagesSayWhereAndHowToFix() {
        let message = RetrievalError.duplicateID(file: "kb.jsonl", line: 4, id: "a", firstLine: 1).description
        XCTAssertTrue(message.hasPrefix("kb.jsonl:4:"))
        XCTAssertTrue(message.contains("line 1"))
    }
}
