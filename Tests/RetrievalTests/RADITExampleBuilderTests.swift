import Foundation
import XCTest
@testable import Retrieval

/// A retriever that returns fixed chunks, none containing any answer.
private struct UselessRetriever: Retriever {
    func search(_ question: String, topK: Int) throws -> [RetrievedChunk] {
        (0..<topK).map { RetrievedChunk(chunkID: Int64($0), documentID: "noise", title: "Noise", chunkIndex: $0, text: "nothing here \($0)", score: 1) }
    }
}

final class RADITExampleBuilderTests: XCTestCase {
    private func fixture() throws -> (KnowledgeIndex, [QAExample], [String: String]) {
        let index = try buildElementsIndex(self)
        let questions = try QADataset.load(contentsOf: try Fixtures.url("elements_qa_slice", "jsonl"))
        let texts = Dictionary(uniqueKeysWithValues: try index.allChunks().map { ($0.reference, $0.text) })
        return (index, questions, texts)
    }

    func testMixCountsFollowTheRatios() throws {
        let (index, questions, _) = try fixture()
        let builder = try RADITExampleBuilder(retriever: index, topK: 3, mix: RAGExampleMix(retrieved: 0.6, distractorOnly: 0.2, closedBook: 0.2), seed: 5)
        let examples = try builder.build(questions)
        XCTAssertEqual(examples.map(\.id), questions.map(\.id))
        let count = { (kind: RAGExampleKind) in examples.filter { $0.kind == kind }.count }
        XCTAssertEqual(count(.retrieved), Int((0.6 * 53).rounded()))
        XCTAssertEqual(count(.distractorOnly), Int((0.2 * 53).rounded()))
        XCTAssertEqual(count(.closedBook), 53 - count(.retrieved) - count(.distractorOnly))
        // Ratios are normalised.
        let scaled = try RADITExampleBuilder(retriever: index, mix: RAGExampleMix(retrieved: 6, distractorOnly: 2, closedBook: 2), seed: 5)
        XCTAssertEqual(scaled.kinds(count: 53), builder.kinds(count: 53))
    }

    func testBuildIsSeeded() throws {
        let (index, questions, _) = try fixture()
        let a = try RADITExampleBuilder(retriever: index, seed: 1).build(questions)
        XCTAssertEqual(try RADITExampleBuilder(retriever: index, seed: 1).build(questions), a)
        XCTAssertNotEqual(try RADITExampleBuilder(retriever: index, seed: 2).build(questions).map(\.kind), a.map(\.kind))
    }

    func testEachKindHasTheRightPassages() throws {
        let (index, questions, texts) = try fixture()
        let template = RAGPromptTemplate()
        let examples = try RADITExampleBuilder(retriever: index, template: template, topK: 3, seed: 3).build(questions)
        let byID = Dictionary(uniqueKeysWithValues: questions.map { ($0.id, $0) })
        for example in examples {
            let question = try XCTUnwrap(byID[example.id])
            XCTAssertEqual(example.answer, question.answers[0])
            let passages = example.passages.map { texts[$0] ?? "" }
            let withAnswer = passages.filter { text in question.answers.contains { SQuADMetrics.contains(passage: text, answer: $0) } }
            switch example.kind {
            case .retrieved:
                XCTAssertEqual(passages.count, 3)
                XCTAssertTrue(example.containsAnswer, example.id)
                XCTAssertFalse(withAnswer.isEmpty, example.id)
            case .distractorOnly:
                XCTAssertEqual(passages.count, 3)
                XCTAssertTrue(withAnswer.isEmpty, example.id)
                XCTAssertFalse(example.containsAnswer)
            case .closedBook:
                XCTAssertEqual(example.passages, [])
                XCTAssertEqual(example.prompt, template.closedBookPrompt(question: question.question))
            case .counterfactual:
                XCTFail("the default mix has no counterfactual share: \(example.id)")
            }
            XCTAssertTrue(example.prompt.hasSuffix("Question: \(question.question)\nAnswer:"))
            XCTAssertEqual(example.prompt.components(separatedBy: "Passage [").count - 1, example.passages.count)
        }
    }

    func testMissingGoldIsReportedNotInvented() throws {
        let questions = [QAExample(id: "q", question: "What is the symbol of Neon?", answers: ["Ne"])]
        let examples = try RADITExampleBuilder(retriever: UselessRetriever(), mix: RAGExampleMix(retrieved: 1, distractorOnly: 0, closedBook: 0)).build(questions)
        XCTAssertEqual(examples.first?.kind, .retrieved)
        XCTAssertEqual(examples.first?.containsAnswer, false)
        XCTAssertEqual(examples.first?.passages.count, 3)
    }

    func testParametersAreValidated() throws {
        XCTAssertThrowsError(try RADITExampleBuilder(retriever: UselessRetriever(), topK: 0))
        XCTAssertThrowsError(try RADITExampleBuilder(retriever: UselessRetriever(), topK: 5, searchDepth: 4))
        XCTAssertThrowsError(try RADITExampleBuilder(retriever: UselessRetriever(), mix: RAGExampleMix(retrieved: 0, distractorOnly: 0, closedBook: 0)))
        XCTAssertThrowsError(try RADITExampleBuilder(retriever: UselessRetriever(), mix: RAGExampleMix(retrieved: -1, distractorOnly: 1, closedBook: 0)))
    }
}
