import Foundation
import Tensors
import XCTest
@testable import Retrieval

final class QADatasetTests: XCTestCase {
    func testReadsTheSharedFormats() throws {
        let examples = try QADataset.parse(jsonl([
            #"{"id": "fb92-00001", "question": "What is the capital of Afghanistan?", "answer": "Kabul", "field": "Capital", "doc_id": "afghanistan/government"}"#,
            #"{"id": "56be", "question": "How many points?", "answers": ["308", "308 points"], "answer_starts": [34, 34], "passage_id": "Super_Bowl_50#0"}"#,
            #"{"id": "x", "question": "Q?", "answers": ["", "A"]}"#,
        ]), file: "qa.jsonl")
        XCTAssertEqual(examples, [
            QAExample(id: "fb92-00001", question: "What is the capital of Afghanistan?", answers: ["Kabul"], documentID: "afghanistan/government"),
            QAExample(id: "56be", question: "How many points?", answers: ["308", "308 points"], documentID: "Super_Bowl_50#0"),
            QAExample(id: "x", question: "Q?", answers: ["A"], documentID: nil),
        ])
    }

    func testReadsTheFixtureFile() throws {
        let examples = try QADataset.load(contentsOf: try Fixtures.url("elements_qa_slice", "jsonl"))
        XCTAssertEqual(examples.count, 53)
        XCTAssertTrue(examples.allSatisfy { $0.answers.count == 1 && $0.documentID != nil })
    }

    func testBadLinesAreErrorsWithTheirLine() {
        XCTAssertThrowsRetrievalError(
            .missingField(file: "qa.jsonl", line: 2, field: "question", expected: "a non-empty string"),
            try QADataset.parse(jsonl([#"{"id": "a", "question": "Q", "answer": "A"}"#, #"{"id": "b", "question": "  ", "answer": "A"}"#]), file: "qa.jsonl"))
        XCTAssertThrowsRetrievalError(
            .missingField(file: "qa.jsonl", line: 1, field: "answer", expected: "a string (or \"answers\": a list of strings)"),
            try QADataset.parse(jsonl([#"{"id": "a", "question": "Q"}"#]), file: "qa.jsonl"))
        XCTAssertThrowsRetrievalError(
            .missingField(file: "qa.jsonl", line: 1, field: "answer", expected: "at least one non-empty answer"),
            try QADataset.parse(jsonl([#"{"id": "a", "question": "Q", "answers": [" "]}"#]), file: "qa.jsonl"))
        XCTAssertThrowsRetrievalError(
            .missingField(file: "qa.jsonl", line: 1, field: "answers", expected: "a list of strings"),
            try QADataset.parse(jsonl([#"{"id": "a", "question": "Q", "answers": [3]}"#]), file: "qa.jsonl"))
        XCTAssertThrowsRetrievalError(
            .duplicateID(file: "qa.jsonl", line: 2, id: "a", firstLine: 1),
            try QADataset.parse(jsonl([#"{"id": "a", "question": "Q", "answer": "A"}"#, #"{"id": "a", "question": "R", "answer": "B"}"#]), file: "qa.jsonl"))
        XCTAssertThrowsRetrievalError(
            .malformedJSON(file: "qa.jsonl", line: 1, reason: "invalid JSON"),
            try QADataset.parse(jsonl(["{id: a}"]), file: "qa.jsonl"))
    }

    func testSplitIsDeterministicDisjointAndSized() throws {
        let examples = (0..<200).map { QAExample(id: "q\($0)", question: "Question \($0)?", answers: ["\($0)"]) }
        let (train, eval) = try QADataset.split(examples, evalFraction: 0.3, seed: 42)
        XCTAssertEqual(eval.count, 60)
        XCTAssertEqual(train.count, 140)
        XCTAssertTrue(Set(train.map(\.id)).isDisjoint(with: eval.map(\.id)))
        XCTAssertEqual(Set(train.map(\.id)).union(eval.map(\.id)), Set(examples.map(\.id)))
        // Input order is kept within each part.
        XCTAssertEqual(train.map(\.id), examples.map(\.id).filter { id in train.contains { $0.id == id } })
        // Same seed, shuffled input: same split.
        var generator = SplitMix64(state: 1)
        let again = try QADataset.split(examples.shuffled(using: &generator), evalFraction: 0.3, seed: 42)
        XCTAssertEqual(Set(again.eval.map(\.id)), Set(eval.map(\.id)))
        // Another seed: another split.
        let other = try QADataset.split(examples, evalFraction: 0.3, seed: 43)
        XCTAssertNotEqual(Set(other.eval.map(\.id)), Set(eval.map(\.id)))
        XCTAssertEqual(try QADataset.split(examples, evalFraction: 0, seed: 1).eval, [])
        XCTAssertEqual(try QADataset.split(examples, evalFraction: 1, seed: 1).train, [])
        XCTAssertThrowsError(try QADataset.split(examples, evalFraction: 1.5, seed: 1))
    }
}
