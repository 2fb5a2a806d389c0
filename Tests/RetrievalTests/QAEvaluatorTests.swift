import Foundation
import XCTest
@testable import Retrieval

final class QAEvaluatorTests: XCTestCase {
    /// A rule-based reader standing in for the model: reads the field the question asks for from the
    /// first passage that has it ("Which element has the chemical symbol S?": the title of the first
    /// passage with "Symbol: S").
    private func reader(_ prompt: String) -> String {
        let lines = prompt.split(separator: "\n").map(String.init)
        let passages = lines.filter { $0.hasPrefix("Passage [") }
        guard let question = lines.first(where: { $0.hasPrefix("Question:") }), !passages.isEmpty else {
            return " I do not know"
        }
        if question.contains("Which element") {
            let symbol = question.split(separator: " ").last?.dropLast() ?? ""
            guard let passage = passages.first(where: { $0.contains("Symbol: \(symbol) ") }) else { return "" }
            let title = passage.drop { $0 != "(" }.dropFirst().prefix { $0 != ")" }
            return " \(title)\nQuestion: next"
        }
        let label = question.contains("atomic number") ? "Atomic number: " : question.contains("atomic weight") ? "Atomic weight: " : "Symbol: "
        guard let passage = passages.first(where: { $0.contains(label) }), let range = passage.range(of: label) else { return "" }
        return " " + (passage[range.upperBound...].split(separator: " ").first.map(String.init) ?? "")
    }

    func testOpenBookBeatsClosedBookWithAReader() throws {
        let index = try buildElementsIndex(self)
        let questions = try QADataset.load(contentsOf: try Fixtures.url("elements_qa_slice", "jsonl"))
        let evaluator = try QAEvaluator(retriever: index, topK: 3, batchSize: 5)
        var batches: [Int] = []
        let open = try evaluator.evaluate(questions, mode: .openBook) { prompts in
            batches.append(prompts.count)
            return prompts.map(self.reader)
        }
        XCTAssertEqual(batches, Array(repeating: 5, count: 10) + [3])
        let closed = try evaluator.evaluate(questions, mode: .closedBook) { $0.map(self.reader) }
        XCTAssertEqual(open.result.n, 53)
        XCTAssertEqual(closed.result.exactMatch, 0)
        XCTAssertEqual(closed.result.f1, 0)
        XCTAssertGreaterThan(open.result.exactMatch, 0.9)
        XCTAssertGreaterThanOrEqual(open.result.f1, open.result.exactMatch)
        let recall = try QAEvaluator.recall(questions, retriever: index, ks: [3])[3]
        XCTAssertEqual(open.result.recallAtK, recall)
        XCTAssertEqual(closed.result.recallAtK, recall)
        XCTAssertEqual(closed.predictions.first?.passages, [])
        XCTAssertEqual(open.predictions.first?.passages.count, 3)
        // The means are those of the per-question scores.
        XCTAssertEqual(open.result.exactMatch, open.predictions.map(\.exactMatch).reduce(0, +) / 53, accuracy: 1e-12)
    }

    func testRecallCountsRepeatedCutOffsOnce() throws {
        // The stage asks for recall at 1, 3, 5 and top_k; with top_k 1 or 3 a cut-off repeats, which must
        // neither crash (duplicate dictionary keys) nor change the values.
        let index = try buildElementsIndex(self)
        let questions = try QADataset.load(contentsOf: try Fixtures.url("elements_qa_slice", "jsonl"))
        let distinct = try QAEvaluator.recall(questions, retriever: index, ks: [1, 3, 5])
        let repeated = try QAEvaluator.recall(questions, retriever: index, ks: [1, 3, 5, 1, 3])
        XCTAssertEqual(repeated, distinct)
        XCTAssertEqual(Set(repeated.keys), [1, 3, 5])
        // recall@k is the share of questions whose first chunk containing an answer ranks before k.
        for k in [1, 3, 5] {
            let expected = try questions.filter { question in
                QAEvaluator.answerRetrieved(question, in: try index.search(question.question, topK: k))
            }.count
            XCTAssertEqual(repeated[k] ?? -1, Double(expected) / Double(questions.count), accuracy: 1e-12)
        }
        XCTAssertLessThanOrEqual(distinct[1] ?? 2, distinct[3] ?? -1)
        XCTAssertLessThanOrEqual(distinct[3] ?? 2, distinct[5] ?? -1)
    }

    func testScoresCountExactlyTheRightAnswers() throws {
        let questions = (0..<10).map { QAExample(id: "q\($0)", question: "Question \($0)?", answers: ["The answer \($0)"]) }
        let evaluator = try QAEvaluator(retriever: nil, batchSize: 4)
        // Right (modulo case, article and trailing lines) for even questions, half right for odd ones.
        let evaluation = try evaluator.evaluate(questions, mode: .closedBook) { prompts in
            prompts.map { prompt in
                let number = prompt.dropFirst("Question: Question ".count).prefix { $0 != "?" }
                return Int(number)!.isMultiple(of: 2) ? " answer \(number)\nQuestion: more" : " \(number) wrong"
            }
        }
        // Odd: prediction "n wrong" vs truth "answer n": 1 shared token of 2 and 2 -> F1 0.5.
        XCTAssertEqual(evaluation.result.exactMatch, 0.5)
        XCTAssertEqual(evaluation.result.f1, 0.75, accuracy: 1e-12)
        XCTAssertNil(evaluation.result.recallAtK)
        XCTAssertEqual(evaluation.predictions[0].prediction, "answer 0")
    }

    func testResultJSONHasTheDocumentedKeys() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let withRecall = String(decoding: try encoder.encode(QAEvaluationResult(exactMatch: 0.5, f1: 0.75, recallAtK: 1, n: 4)), as: UTF8.self)
        XCTAssertEqual(withRecall, #"{"exact_match":0.5,"f1":0.75,"n":4,"recall_at_k":1}"#)
        let without = String(decoding: try encoder.encode(QAEvaluationResult(exactMatch: 0, f1: 0, recallAtK: nil, n: 0)), as: UTF8.self)
        XCTAssertEqual(without, #"{"exact_match":0,"f1":0,"n":0,"recall_at_k":null}"#)
        XCTAssertEqual(try JSONDecoder().decode(QAEvaluationResult.self, from: Data(withRecall.utf8)), QAEvaluationResult(exactMatch: 0.5, f1: 0.75, recallAtK: 1, n: 4))
    }

    func testBadUseIsAnError() throws {
        let questions = [QAExample(id: "q", question: "Q?", answers: ["A"])]
        XCTAssertThrowsRetrievalError(
            .invalidParameter(name: "knowledge", value: "none", expected: "an index for open-book evaluation"),
            try QAEvaluator(retriever: nil).evaluate(questions, mode: .openBook) { $0 })
        XCTAssertThrowsRetrievalError(
            .generationCountMismatch(expected: 1, got: 0), try QAEvaluator(retriever: nil).evaluate(questions, mode: .closedBook) { _ in [] })
        XCTAssertThrowsRetrievalError(
            .emptyQuestion(id: "e"),
            try QAEvaluator(retriever: nil).evaluate([QAExample(id: "e", question: " ", answers: ["A"])], mode: .closedBook) { $0 })
        XCTAssertThrowsError(try QAEvaluator(retriever: nil, topK: 0))
        XCTAssertEqual(try QAEvaluator(retriever: nil).evaluate([], mode: .closedBook) { $0 }.result, QAEvaluationResult(exactMatch: 0, f1: 0, recallAtK: nil, n: 0))
    }
}
