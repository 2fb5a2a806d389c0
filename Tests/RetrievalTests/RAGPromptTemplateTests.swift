import Foundation
import XCTest
@testable import Retrieval

final class RAGPromptTemplateTests: XCTestCase {
    private let passages = [
        RetrievedChunk(chunkID: 1, documentID: "france/government", title: "France - Government", chunkIndex: 0,
                       text: "Long-form name:\n    French Republic\nCapital:\n    Paris", score: 3),
        RetrievedChunk(chunkID: 9, documentID: "france/people", title: "France  - People", chunkIndex: 2, text: "Population: 57,287,258", score: 1),
    ]

    func testOpenAndClosedBookPromptsHaveTheDocumentedShape() {
        let template = RAGPromptTemplate()
        XCTAssertEqual(template.prompt(question: "What is the capital of France?", passages: passages), """
            Passage [1] (France - Government): Long-form name: French Republic Capital: Paris
            Passage [2] (France - People): Population: 57,287,258
            Question: What is the capital of France?
            Answer:
            """)
        XCTAssertEqual(template.closedBookPrompt(question: "What is the capital of France?"), "Question: What is the capital of France?\nAnswer:")
        XCTAssertEqual(template.prompt(question: "Q?", passages: []), template.closedBookPrompt(question: "Q?"))
        XCTAssertEqual(template.completion(answer: "Paris"), " Paris")
        XCTAssertEqual(RAGPromptTemplate(maxPassageCharacters: 10).prompt(question: "Q?", passages: [passages[1]]),
                       "Passage [1] (France - People): Population\nQuestion: Q?\nAnswer:")
    }

    func testExtractAnswerReadsTheFirstLine() {
        let template = RAGPromptTemplate()
        XCTAssertEqual(template.extractAnswer(" Paris\nQuestion: What is"), "Paris")
        XCTAssertEqual(template.extractAnswer("  57,287,258  "), "57,287,258")
        XCTAssertEqual(template.extractAnswer("\nParis"), "")
        XCTAssertEqual(template.extractAnswer(""), "")
    }

    func testEncodeMasksEverythingButTheAnswerAndEOS() {
        let template = RAGPromptTemplate()
        let tokenize = { (text: String) in text.unicodeScalars.map { Int32($0.value) } }
        let prompt = template.closedBookPrompt(question: "Q?")
        let (ids, labels) = template.encode(prompt: prompt, answer: "Paris", tokenize: tokenize, bosTokenID: 1, eosTokenID: 2, maxLength: 100)
        let answer = tokenize(" Paris") + [2]
        XCTAssertEqual(ids, [1] + tokenize(prompt) + answer)
        XCTAssertEqual(labels, [Int32](repeating: -100, count: 1 + prompt.unicodeScalars.count) + answer)
    }

    func testEncodeTruncatesThePromptFromTheLeft() {
        let template = RAGPromptTemplate()
        let tokenize = { (text: String) in text.unicodeScalars.map { Int32($0.value) } }
        let (ids, labels) = template.encode(prompt: "0123456789Answer:", answer: "ok", tokenize: tokenize, bosTokenID: 1, eosTokenID: 2, maxLength: 12)
        XCTAssertEqual(ids.count, 12)
        XCTAssertEqual(ids, [1] + tokenize("Answer:") + tokenize(" ok") + [2])
        XCTAssertEqual(labels.filter { $0 != -100 }, tokenize(" ok") + [2])
        let (short, shortLabels) = template.encode(prompt: "P", answer: "long answer", tokenize: tokenize, bosTokenID: nil, eosTokenID: 2, maxLength: 4)
        XCTAssertEqual(short, tokenize(" lon"))
        XCTAssertEqual(shortLabels, short)
    }
}
