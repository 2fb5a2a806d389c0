import Foundation
import XCTest
@testable import Retrieval

/// Compares with values from `scripts/reference/squad_metrics.py` (the official SQuAD v1.1 definitions).
final class SQuADMetricsTests: XCTestCase {
    struct Case: Decodable {
        var prediction: String
        var ground_truths: [String]
        var normalized_prediction: String
        var exact_match: Double
        var f1: Double
    }

    func testMatchesTheReferenceScript() throws {
        let cases = try JSONDecoder().decode([Case].self, from: Data(contentsOf: try Fixtures.url("squad_metrics", "json")))
        XCTAssertEqual(cases.count, 30)
        for item in cases {
            let label = item.prediction.debugDescription
            XCTAssertEqual(SQuADMetrics.normalize(item.prediction), item.normalized_prediction, label)
            XCTAssertEqual(SQuADMetrics.exactMatch(prediction: item.prediction, groundTruths: item.ground_truths), item.exact_match, label)
            XCTAssertEqual(SQuADMetrics.f1(prediction: item.prediction, groundTruths: item.ground_truths), item.f1, accuracy: 1e-12, label)
        }
    }

    func testContainsMatchesWholeNormalisedTokens() {
        XCTAssertTrue(SQuADMetrics.contains(passage: "Total area:\n    547,030 km2\nLand area:", answer: "547,030 km2"))
        XCTAssertTrue(SQuADMetrics.contains(passage: "Long-form name:\n    Islamic State of\n    Afghanistan", answer: "Islamic State of Afghanistan"))
        XCTAssertTrue(SQuADMetrics.contains(passage: "Atomic weight: (147)", answer: "(147)"))
        XCTAssertFalse(SQuADMetrics.contains(passage: "Discovered in 1776.", answer: "1"))
        XCTAssertTrue(SQuADMetrics.contains(passage: "Atomic number: 1\n", answer: "1"))
        XCTAssertFalse(SQuADMetrics.contains(passage: "Paris", answer: "the"))
        XCTAssertFalse(SQuADMetrics.contains(passage: "short", answer: "a much longer answer"))
    }
}
