import Foundation
import XCTest
@testable import Retrieval

final class FieldQuestionGeneratorTests: XCTestCase {
    /// Two factbook-layout documents (label line, value on indented lines) and one elements-layout one.
    private let documents = [
        KnowledgeDocument(
            id: "algeria/government", title: "Algeria - Government",
            text: "Long-form name:\n    Democratic and Popular Republic of Algeria\nType:\n    republic\nCapital:\n    Algiers\nAdministrative divisions:\n    48 provinces (wilayast, singular -\n    wilaya); Adrar, Ain Defla",
            metadata: ["country": "Algeria"]),
        KnowledgeDocument(
            id: "algeria/economy", title: "Algeria - Economy",
            text: "Currency:\n    Algerian dinar (plural - dinars); 1 Algerian dinar (DA) = 100 centimes\nExternal debt:\n    NA\nExports:\n    $11.5 billion (f.o.b., 1991); petroleum and natural gas 97%, very long list of other goods here",
            metadata: ["country": "Algeria"]),
        KnowledgeDocument(id: "helium", title: "Helium", text: "helium\nSymbol: He\nAtomic number: 2\nColourless, odourless gaseous element."),
    ]

    func testReadsBothLayoutsAndCutsValuesLikeTheQAFile() {
        let questions = FieldQuestionGenerator.questions(from: documents, excluding: [])
        let pairs = questions.map { "\($0.question) -> \($0.answers[0])" }
        XCTAssertEqual(pairs, [
            "What is the long-form name of Algeria? -> Democratic and Popular Republic of Algeria",
            "What is the type of Algeria? -> republic",
            "What is the capital of Algeria? -> Algiers",
            "What is the administrative divisions of Algeria? -> 48 provinces",
            "What is the currency of Algeria? -> Algerian dinar",
            // External debt "NA" is dropped; Exports is cut at " (" ("$11.5 billion").
            "What is the exports of Algeria? -> $11.5 billion",
            "What is the symbol of Helium? -> He",
            "What is the atomic number of Helium? -> 2",
        ])
        XCTAssertEqual(questions.map(\.documentID), ["algeria/government", "algeria/government", "algeria/government",
                                                     "algeria/government", "algeria/economy", "algeria/economy", "helium", "helium"])
        XCTAssertEqual(Set(questions.map(\.id)).count, questions.count)
        // Every answer is a span of its document (the passages can hold it).
        for question in questions {
            let text = documents.first { $0.id == question.documentID }?.text ?? ""
            XCTAssertTrue(SQuADMetrics.contains(passage: text, answer: question.answers[0]), question.question)
        }
    }

    func testHeldOutAnswersAndQuestionsNeverBecomeTargets() {
        let heldOut = [
            // Same document, answer contained in a synthetic answer's value: the capital is dropped.
            QAExample(id: "fb92-1", question: "Where is the seat of government of Algeria?", answers: ["Algiers"],
                      documentID: "algeria/government"),
            // Same question text (modulo case and punctuation): dropped whatever its document.
            QAExample(id: "fb92-2", question: "what is the SYMBOL of helium", answers: ["He"], documentID: nil),
            // A held-out answer inside a synthetic one ("Algerian dinar" contains "dinar").
            QAExample(id: "fb92-3", question: "What is the currency of Algeria?", answers: ["dinar"],
                      documentID: "algeria/economy"),
        ]
        let questions = FieldQuestionGenerator.questions(from: documents, excluding: heldOut)
        XCTAssertEqual(questions.map(\.question), [
            "What is the long-form name of Algeria?", "What is the type of Algeria?",
            "What is the administrative divisions of Algeria?", "What is the exports of Algeria?",
            "What is the atomic number of Helium?",
        ])
        XCTAssertEqual(FieldQuestionGenerator.questions(from: documents, excluding: [], maxAnswerWords: 1).map { $0.answers[0] },
                       ["republic", "Algiers", "He", "2"])
    }
}
