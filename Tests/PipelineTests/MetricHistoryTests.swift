import XCTest
@testable import Pipeline

/// `rlhf metrics`' table: several metrics of a stage side by side by step.
final class MetricHistoryTests: XCTestCase {
    func point(_ name: String, _ step: Int, _ value: Double) -> MetricRecord {
        MetricRecord(runId: 1, stageRunId: 1, stage: "ppo", step: step, name: name, value: value, time: 0)
    }

    func testRowsAreTheUnionOfStepsWithGapsWhereAMetricHasNoPoint() throws {
        // objective/kl every iteration, eval/kl at 0, 2 and 3 (as the ppo stage logs them).
        let points = [point("objective/kl", 1, 0.5), point("objective/kl", 2, 1.5), point("objective/kl", 3, 2.5),
                      point("eval/kl", 0, 0), point("eval/kl", 2, 1.25), point("eval/kl", 3, 2.0),
                      point("eval/score_policy", 0, 0.1), point("eval/score_policy", 2, 0.4), point("eval/score_policy", 3, 0.6)]
        let h = try MetricHistory.select(points.shuffled(), names: ["objective/kl", "eval/*"])
        XCTAssertEqual(h.names, ["objective/kl", "eval/kl", "eval/score_policy"], "pattern order; a prefix's names sorted")
        XCTAssertEqual(h.rows, [
            .init(step: 0, values: [nil, 0, 0.1]),
            .init(step: 1, values: [0.5, nil, nil]),
            .init(step: 2, values: [1.5, 1.25, 0.4]),
            .init(step: 3, values: [2.5, 2.0, 0.6]),
        ])
        XCTAssertEqual(h.csv, "step,objective/kl,eval/kl,eval/score_policy\n0,,0.0,0.1\n1,0.5,,\n2,1.5,1.25,0.4\n3,2.5,2.0,0.6\n")
    }

    func testARepeatedStepKeepsTheLastPointAndNoPatternSelectsEverything() throws {
        // A stage resumed from a checkpoint at step 2 logs steps 3.. again; the later points win.
        let points = [point("loss", 1, 3), point("loss", 2, 2), point("loss", 3, 9), point("loss", 3, 1), point("lr", 3, 1e-4)]
        let h = try MetricHistory.select(points, names: [])
        XCTAssertEqual(h.names, ["loss", "lr"])
        XCTAssertEqual(h.rows.map(\.step), [1, 2, 3])
        XCTAssertEqual(h.rows[2].values, [1, 1e-4])
    }

    func testAnUnknownNameIsAnErrorListingTheStagesMetrics() {
        XCTAssertThrowsError(try MetricHistory.select([point("objective/kl", 1, 0)], names: ["objective/kl_coeff"])) { e in
            guard case let PipelineError.notFound(what, fix) = e else { return XCTFail("\(e)") }
            XCTAssertTrue(what.contains("objective/kl_coeff"))
            XCTAssertTrue(fix.contains("objective/kl"), fix)
        }
        XCTAssertThrowsError(try MetricHistory.select([point("loss", 1, 0)], names: ["eval/*"]))
    }

    func testCurvesOfAStageReadBackFromTheStore() async throws {
        let sandbox = try Sandbox()
        let r = try await sandbox.run("""
            name: metrics
            stages:
              train: {kind: test-write, params: {text: T, steps: 4, tag: metrics}}
            """)
        let store = try sandbox.store()
        let stage = try XCTUnwrap(try store.stageRuns(run: r.runID).first { $0.stage == "train" })
        let h = try MetricHistory.select(try store.metrics(stageRunID: stage.id), names: ["loss", "eval_loss"])
        XCTAssertEqual(h.rows.map(\.step), [1, 2, 3, 4])
        for row in h.rows {
            XCTAssertEqual(row.values[0], 1.0 / Double(row.step))
            XCTAssertEqual(row.values[1], 1.5 / Double(row.step))
        }
    }
}
