import Foundation
import XCTest
@testable import Training

final class MetricsTests: XCTestCase {
    func testProgressLine() {
        let p = ProgressLine(step: 120, totalSteps: 1000, loss: 3.45214, learningRate: 3e-4, tokensPerSecond: 12345.4, elapsedSeconds: 60)
        // ETA = 60 s / 120 steps * 880 steps = 440 s
        XCTAssertEqual(p.text, "step 120/1000 | loss 3.4521 | lr 3.00e-04 | 12345 tok/s | ETA 7m20s")
        let resumed = ProgressLine(step: 510, totalSteps: 1000, elapsedSeconds: 10, startStep: 500)
        XCTAssertEqual(resumed.etaSeconds, 490)
        XCTAssertEqual(ProgressLine(step: 0, totalSteps: 10, elapsedSeconds: 1).text, "step 0/10 | ETA --")
        XCTAssertEqual(ProgressLine.duration(3723), "1h02m03s")
        XCTAssertEqual(ProgressLine.duration(9.4), "9s")
    }

    func testStructuredLines() {
        let m: [(String, Double)] = [("loss", 3.25), ("learning_rate", 0.0003), ("grad_norm", .nan), ("objective/kl", 2)]
        XCTAssertEqual(StructuredLogLine.format(step: 7, metrics: m, format: .logfmt),
                       "step=7 loss=3.25 learning_rate=0.0003 grad_norm=NaN objective/kl=2")
        let json = StructuredLogLine.format(step: 7, metrics: m, format: .json)
        XCTAssertEqual(json, #"{"step":7,"loss":3.25,"learning_rate":0.0003,"grad_norm":null,"objective/kl":2}"#)
        let parsed = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        XCTAssertEqual(parsed?["learning_rate"] as? Double, 0.0003)
    }

    func testInMemorySinkAndFiniteGuard() throws {
        let sink = InMemoryMetricsSink()
        try sink.record(step: 1, metrics: ["loss": 2, "learning_rate": 1e-3])
        sink.record(step: 2, name: "loss", value: 1.5)
        XCTAssertEqual(sink.series("loss").map(\.value), [2, 1.5])
        XCTAssertEqual(sink.records.first?.name, "learning_rate")
        XCTAssertNoThrow(try checkFinite(1.0, name: "loss", step: 3))
        XCTAssertThrowsError(try checkFinite(.infinity, name: "loss", step: 41)) { e in
            XCTAssertEqual(e as? TrainingError, .nonFinite(name: "loss", step: 41, value: .infinity, index: nil))
            XCTAssertTrue("\(e)".contains("at step 41"))
        }
        XCTAssertThrowsError(try checkFinite([1, 2, .nan] as [Float], name: "model.norm.weight", step: 9)) { e in
            guard case let .nonFinite(name, step, _, index)? = e as? TrainingError else { return XCTFail() }
            XCTAssertEqual(name, "model.norm.weight"); XCTAssertEqual(step, 9); XCTAssertEqual(index, 2)
        }
    }
}
