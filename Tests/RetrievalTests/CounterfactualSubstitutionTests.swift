import Foundation
import Tensors
import XCTest
@testable import Retrieval

final class CounterfactualSubstitutionTests: XCTestCase {
    private func chunk(_ text: String, _ n: Int = 0) -> RetrievedChunk {
        RetrievedChunk(chunkID: Int64(n), documentID: "doc\(n)", title: "Doc \(n)", chunkIndex: 0, text: text, score: 1)
    }

    private let capitals = [
        QAExample(id: "a", question: "What is the capital of Afghanistan?", answers: ["Kabul"]),
        QAExample(id: "b", question: "What is the capital of Albania?", answers: ["Tirane"]),
        QAExample(id: "c", question: "What is the capital of Algeria?", answers: ["Algiers"]),
        QAExample(id: "d", question: "What is the currency of Algeria?", answers: ["Algerian dinar"]),
    ]

    func testKindIsTheTemplateBeforeTheEntity() {
        XCTAssertEqual(CounterfactualSubstitution.kind(of: "What is the capital of Bosnia and Herzegovina?"), "what is the capital of ")
        XCTAssertEqual(CounterfactualSubstitution.kind(of: "What is the long-form name of Chad?"), "what is the long-form name of ")
        XCTAssertEqual(CounterfactualSubstitution.kind(of: "Which element has the chemical symbol S?"), "which element has the")
    }

    func testAnswerIsReplacedInEveryPassageBySameKindAnswer() throws {
        let substitution = CounterfactualSubstitution(questions: capitals)
        var generator = SplitMix64(state: 7)
        var seen = Set<String>()
        for _ in 0..<50 {
            let passages = [chunk("Capital: Kabul", 0), chunk("Kabul lies on the Kabul river.", 1), chunk("Currency: afghani", 2)]
            let swapped = try XCTUnwrap(substitution.substitute(
                passages: passages, question: "What is the capital of Afghanistan?", answers: ["Kabul"], using: &generator))
            XCTAssertTrue(["Tirane", "Algiers"].contains(swapped.answer), swapped.answer)
            seen.insert(swapped.answer)
            XCTAssertEqual(swapped.passages.map(\.text), [
                "Capital: \(swapped.answer)", "\(swapped.answer) lies on the \(swapped.answer) river.", "Currency: afghani"])
            XCTAssertEqual(swapped.passages.map(\.reference), passages.map(\.reference))
        }
        XCTAssertEqual(seen, ["Tirane", "Algiers"], "both candidates are drawn")
    }

    func testCandidatesAlreadyInThePassagesOrEqualToTheAnswerAreSkipped() throws {
        let substitution = CounterfactualSubstitution(questions: capitals + [
            QAExample(id: "e", question: "What is the capital of Kabulistan?", answers: ["kabul"]),
        ])
        var generator = SplitMix64(state: 1)
        for _ in 0..<50 {
            let swapped = try XCTUnwrap(substitution.substitute(
                passages: [chunk("Capital: Kabul"), chunk("Tirane is not here, it is elsewhere", 1)],
                question: "What is the capital of Afghanistan?", answers: ["Kabul"], using: &generator))
            XCTAssertEqual(swapped.answer, "Algiers", "'kabul' normalises to the answer and Tirane is in a passage")
        }
    }

    func testAKindWithOneAnswerFallsBackToAllAnswers() throws {
        let substitution = CounterfactualSubstitution(questions: capitals)
        var generator = SplitMix64(state: 3)
        let swapped = try XCTUnwrap(substitution.substitute(
            passages: [chunk("Currency: Algerian dinar (plural - dinars)")], question: "What is the currency of Algeria?",
            answers: ["Algerian dinar"], using: &generator))
        XCTAssertTrue(["Kabul", "Tirane", "Algiers"].contains(swapped.answer))
        XCTAssertEqual(swapped.passages[0].text, "Currency: \(swapped.answer) (plural - dinars)")
    }

    func testOnlyWholeWordsAreReplaced() throws {
        let substitution = CounterfactualSubstitution(questions: [
            QAExample(id: "a", question: "What is the symbol of lithium?", answers: ["Li"]),
            QAExample(id: "b", question: "What is the symbol of boron?", answers: ["B"]),
        ])
        var generator = SplitMix64(state: 3)
        let swapped = try XCTUnwrap(substitution.substitute(
            passages: [chunk("Lithium (Li) is soft; Li-ion cells use it. LiOH")], question: "What is the symbol of lithium?",
            answers: ["Li"], using: &generator))
        XCTAssertEqual(swapped.passages[0].text, "Lithium (B) is soft; B-ion cells use it. LiOH")
        let titled = RetrievedChunk(chunkID: 1, documentID: "li", title: "Li - Lithium", chunkIndex: 0, text: "Symbol: Li", score: 1)
        let retitled = try XCTUnwrap(substitution.substitute(
            passages: [titled], question: "What is the symbol of lithium?", answers: ["Li"], using: &generator))
        XCTAssertEqual([retitled.passages[0].title, retitled.passages[0].text], ["B - Lithium", "Symbol: B"])
    }

    func testNoVerbatimAnswerMeansNoSubstitution() {
        let substitution = CounterfactualSubstitution(questions: capitals)
        var generator = SplitMix64(state: 3)
        XCTAssertNil(substitution.substitute(passages: [chunk("Capital: KABUL")], question: "What is the capital of Afghanistan?",
                                             answers: ["Kabul"], using: &generator))
        XCTAssertNil(CounterfactualSubstitution(questions: Array(capitals.prefix(1))).substitute(
            passages: [chunk("Capital: Kabul")], question: "What is the capital of Afghanistan?", answers: ["Kabul"], using: &generator),
            "the only candidate is the answer itself")
    }

    func testBuilderMakesCounterfactualExamplesWhoseTargetIsOnlyInThePassage() throws {
        let index = try buildElementsIndex(self)
        let questions = try QADataset.load(contentsOf: try Fixtures.url("elements_qa_slice", "jsonl"))
        let template = RAGPromptTemplate()
        let builder = try RADITExampleBuilder(
            retriever: index, template: template, topK: 3,
            mix: RAGExampleMix(retrieved: 0, distractorOnly: 0, closedBook: 0, counterfactual: 1), seed: 11)
        let examples = try builder.build(questions)
        XCTAssertEqual(try builder.build(questions), examples, "seeded")
        let byID = Dictionary(uniqueKeysWithValues: questions.map { ($0.id, $0) })
        let allAnswers = Set(questions.map { $0.answers[0] })
        let counterfactual = examples.filter { $0.kind == .counterfactual }
        XCTAssertGreaterThan(counterfactual.count, questions.count / 2)
        for example in examples {
            let question = try XCTUnwrap(byID[example.id])
            XCTAssertTrue(example.prompt.hasSuffix("Question: \(question.question)\nAnswer:"))
            switch example.kind {
            case .counterfactual:
                XCTAssertTrue(example.containsAnswer)
                XCTAssertTrue(allAnswers.contains(example.answer), "the substitute is another question's answer")
                XCTAssertFalse(question.answers.map(SQuADMetrics.normalize).contains(SQuADMetrics.normalize(example.answer)))
                let questionStart = try XCTUnwrap(example.prompt.range(of: "Question: ")).lowerBound
                let context = String(example.prompt[..<questionStart]).replacingOccurrences(
                    of: #"Passage \[\d+\]"#, with: "Passage", options: .regularExpression)
                XCTAssertTrue(context.contains(example.answer), example.id)
                let original = try XCTUnwrap(question.answers.first { !$0.isEmpty })
                let word = try NSRegularExpression(pattern: "(?<![\\p{L}\\p{N}])" + NSRegularExpression.escapedPattern(for: original) + "(?![\\p{L}\\p{N}])")
                let left = word.numberOfMatches(in: context, range: NSRange(context.startIndex..., in: context))
                XCTAssertEqual(left, 0, "\(example.id): \(original) left in the passage")
            case .retrieved:
                XCTAssertEqual(example.answer, question.answers[0], "a fallback keeps the factual target")
            default:
                XCTFail("unexpected kind \(example.kind) for \(example.id)")
            }
        }
        // The kinds are assigned as before when the counterfactual share is 0.
        let plain = try RADITExampleBuilder(retriever: index, mix: RAGExampleMix(retrieved: 0.6, distractorOnly: 0.2, closedBook: 0.2), seed: 5)
        XCTAssertFalse(plain.kinds(count: 53).contains(.counterfactual))
        let mixed = try RADITExampleBuilder(retriever: index, mix: RAGExampleMix(retrieved: 0.4, distractorOnly: 0.2, closedBook: 0.2, counterfactual: 0.2), seed: 5)
        XCTAssertEqual(mixed.kinds(count: 50).filter { $0 == .counterfactual }.count, 10)
    }

    func testMixDecodesWithoutCounterfactual() throws {
        let mix = try JSONDecoder().decode(RAGExampleMix.self, from: Data(#"{"retrieved": 0.7, "distractor_only": 0.15, "closed_book": 0.15}"#.utf8))
        XCTAssertEqual(mix, RAGExampleMix())
        XCTAssertThrowsError(try RAGExampleMix(retrieved: 1, distractorOnly: 0, closedBook: 0, counterfactual: -0.1).validate())
    }
}

final class CounterfactualNameTests: XCTestCase {
    func testCapitalisedWordsAreReplacedByNames() throws {
        let questions = [
            QAExample(id: "a", question: "What is the long-form name of Moldova?", answers: ["Republic of Moldova"]),
            QAExample(id: "b", question: "What is the long-form name of Chad?", answers: ["Republic of Chad"]),
        ]
        let substitution = CounterfactualSubstitution(questions: questions, names: ["Tsumeb", "Kivu"])
        var generator = SplitMix64(state: 9)
        var seen = Set<String>()
        for _ in 0..<40 {
            let passage = RetrievedChunk(chunkID: 1, documentID: "md", title: "Moldova - Government", chunkIndex: 0,
                                         text: "Long-form name: Republic of Moldova", score: 1)
            let swapped = try XCTUnwrap(substitution.substitute(
                passages: [passage], question: questions[0].question, answers: questions[0].answers, using: &generator))
            let words = swapped.answer.split(separator: " ").map(String.init)
            XCTAssertEqual(words.count, 3)
            XCTAssertEqual(words[1], "of")
            XCTAssertTrue(["Tsumeb", "Kivu"].contains(words[0]) && ["Tsumeb", "Kivu"].contains(words[2]), swapped.answer)
            XCTAssertEqual(swapped.passages[0].text, "Long-form name: \(swapped.answer)")
            seen.insert(swapped.answer)
        }
        XCTAssertEqual(seen.count, 4, "every combination of the two names is drawn")
        // A number keeps the swap within its kind.
        let numbers = CounterfactualSubstitution(questions: [
            QAExample(id: "x", question: "What is the total area of A?", answers: ["100 km2"]),
            QAExample(id: "y", question: "What is the total area of B?", answers: ["250 km2"]),
        ], names: ["Tsumeb"])
        let area = try XCTUnwrap(numbers.substitute(
            passages: [RetrievedChunk(chunkID: 2, documentID: "a", title: "A", chunkIndex: 0, text: "Total area: 100 km2", score: 1)],
            question: "What is the total area of A?", answers: ["100 km2"], using: &generator))
        XCTAssertEqual(area.answer, "250 km2")
    }

    func testNamesComeFromTheKnowledgeBaseWithoutHeldOutAnswers() {
        let documents = [
            KnowledgeDocument(id: "af", title: "Afghanistan", text: "Capital: Kabul\nThe Hindu Kush rises near Kabul; USSR, UN and Al rest."),
        ]
        let names = CounterfactualSubstitution.names(in: documents, excluding: [
            QAExample(id: "q", question: "What is the capital of Afghanistan?", answers: ["Kabul"]),
        ])
        XCTAssertEqual(names, ["Capital", "The", "Hindu", "Kush", "USSR"])
    }
}
