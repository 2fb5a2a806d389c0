import Foundation
import XCTest
@testable import Preferences

/// Cohen's and Fleiss' kappa against scikit-learn / statsmodels (scripts/reference/kappa_reference.py).
final class AgreementTests: XCTestCase {
    struct Reference: Decodable {
        struct Cohen: Decodable { let rater1: [String]; let rater2: [String]; let kappa: Double }
        struct Fleiss: Decodable { let counts: [[Int]]; let kappa: Double }
        let cohen: [Cohen]
        let fleiss: [Fleiss]
    }

    func reference() throws -> Reference {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "kappa-reference", withExtension: "json", subdirectory: "Fixtures"))
        return try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }

    func testCohensKappaMatchesScikitLearn() throws {
        for case_ in try reference().cohen {
            let k = try XCTUnwrap(cohensKappa(Array(zip(case_.rater1, case_.rater2))))
            XCTAssertEqual(k, case_.kappa, accuracy: 1e-12)
        }
    }

    func testFleissKappaMatchesStatsmodels() throws {
        for case_ in try reference().fleiss {
            let k = try XCTUnwrap(fleissKappa(case_.counts))
            XCTAssertEqual(k, case_.kappa, accuracy: 1e-12)
        }
    }

    func testDegenerateKappasAreNil() {
        XCTAssertNil(cohensKappa([(String, String)]()))
        XCTAssertNil(cohensKappa([("a", "a"), ("a", "a")]), "p_e = 1: kappa undefined")
        XCTAssertNil(fleissKappa([[1, 0, 0]]), "no item with two ratings")
    }

    func testAggregateStatsCountsAndLeaveOneOutMajority() {
        // Item 1: x=a y=a z=b; item 2: x=b y=b; item 3: x=skip, y=a.
        let labels: [(Int64, String, LabelChoice)] = [
            (1, "x", .a), (1, "y", .a), (1, "z", .b), (2, "x", .b), (2, "y", .b), (3, "x", .skip), (3, "y", .a)]
        let s = aggregateStats(dataset: "d", overlap: 3, comparisons: 4, labels: labels)
        XCTAssertEqual(s.choices, ChoiceCounts(a: 3, b: 3, tie: 0, skip: 1))
        XCTAssertEqual(s.labelledComparisons, 3)
        XCTAssertEqual(s.fleissItems, 2)
        let x = s.annotators.first { $0.annotator == "x" }!
        // x on item 1: others {a, b} have no strict majority -> not counted; item 2: others {b} -> agree.
        XCTAssertEqual(x.majorityItems, 1)
        XCTAssertEqual(x.agreementWithMajority, 1)
        let z = s.annotators.first { $0.annotator == "z" }!
        XCTAssertEqual(z.agreementWithMajority, 0)
        let xy = s.annotatorPairs.first { $0.annotator1 == "x" && $0.annotator2 == "y" }!
        XCTAssertEqual(xy.sharedItems, 2)
        XCTAssertEqual(xy.agreement, 1)
    }

    func testMajority() {
        XCTAssertEqual(majority(VoteCount(a: 2, b: 1, tie: 5)), .a)
        XCTAssertEqual(majority(VoteCount(a: 0, b: 1, tie: 0)), .b)
        XCTAssertEqual(majority(VoteCount(a: 1, b: 1, tie: 0)), .tie)
        XCTAssertEqual(majority(VoteCount(a: 0, b: 0, tie: 1)), .tie)
        XCTAssertNil(majority(VoteCount(a: 0, b: 0, tie: 0)))
    }
}
