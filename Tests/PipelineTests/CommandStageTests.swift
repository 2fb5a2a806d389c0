import XCTest
@testable import Pipeline

/// The `command` kind, run for real with /bin/sh.
final class CommandStageTests: XCTestCase {
    func testEnvironmentInputsMetricsAndDeps() async throws {
        let sandbox = try Sandbox()
        try sandbox.write("data/words.txt", "alpha\nbeta\n")
        let yaml = """
            name: commands
            seed: 5
            stages:
              count-words:
                kind: command
                params:
                  run: |
                    wc -l < data/words.txt | tr -d ' ' > "$RLHF_OUTPUT_DIR/n.txt"
                    echo "$RLHF_SEED $RLHF_STAGE $GREETING" > "$RLHF_OUTPUT_DIR/env.txt"
                    echo '{"step": 1, "name": "loss", "value": 0.75}' >> "$RLHF_METRICS_FILE"
                    echo '{"step": 2, "loss": 0.5, "eval_loss": 0.6}' >> "$RLHF_METRICS_FILE"
                  deps: [data/words.txt]
                  env: {GREETING: hi}
                  headline: [eval_loss]
              double:
                kind: command
                needs: [count-words]
                params:
                  run: echo $(( $(cat "$RLHF_INPUT_COUNT_WORDS/n.txt") * 2 )) > "$RLHF_OUTPUT_DIR/n.txt"
            """
        let r = try await sandbox.run(yaml)
        XCTAssertEqual(r.states(), ["count-words": .succeeded, "double": .succeeded])
        let out = try XCTUnwrap(r["double"]?.path)
        XCTAssertEqual(try String(contentsOfFile: out + "/n.txt", encoding: .utf8), "4\n")
        XCTAssertEqual(try String(contentsOfFile: r["count-words"]!.path! + "/env.txt", encoding: .utf8), "5 count-words hi\n")
        XCTAssertEqual(r["count-words"]?.metrics, ["loss": 0.5, "eval_loss": 0.6])
        XCTAssertEqual(r["count-words"]?.headline, ["eval_loss"])
        let stored = try sandbox.store().metrics(stageRunID: try XCTUnwrap(sandbox.store().stageRuns(run: r.runID).first?.id))
        XCTAssertEqual(stored.filter { $0.name == "loss" }.map(\.value), [0.75, 0.5])

        let s1 = try await sandbox.run(yaml)

        XCTAssertEqual(s1.states(), ["count-words": .cached, "double": .cached])
        // Changing a dependency's content re-runs; same result downstream is then cached (early cut-off).
        try sandbox.write("data/words.txt", "gamma\ndelta\n")
        let s2 = try await sandbox.run(yaml)
        XCTAssertEqual(s2.states(), ["count-words": .succeeded, "double": .cached])
        // Changing the command re-runs it.
        let changed = yaml.replacingOccurrences(of: "* 2", with: "* 3")
        let r4 = try await sandbox.run(changed)
        XCTAssertEqual(r4.states(), ["count-words": .cached, "double": .succeeded])
        XCTAssertEqual(try String(contentsOfFile: r4["double"]!.path! + "/n.txt", encoding: .utf8), "6\n")
    }

    func testThreadsReachCommandsAndAreNotPartOfTheCacheKey() async throws {
        let sandbox = try Sandbox()
        let yaml = """
            stages:
              threads: {kind: command, params: {run: "echo $RLHF_NUM_THREADS > $RLHF_OUTPUT_DIR/seen"}}
            """
        let first = try await sandbox.run(yaml, RunOptions(threads: 3))
        XCTAssertEqual(first.states(), ["threads": .succeeded])
        XCTAssertEqual(try String(contentsOfFile: try XCTUnwrap(first["threads"]?.path) + "/seen", encoding: .utf8), "3\n")
        // The same stage at another thread count is served from the cache: the count is not in the key.
        let second = try await sandbox.run(yaml, RunOptions(threads: 1))
        XCTAssertEqual(second.states(), ["threads": .cached])
        XCTAssertEqual(second["threads"]?.artifact, first["threads"]?.artifact)
    }

    func testNonZeroExitFailsWithLog() async throws {
        let sandbox = try Sandbox()
        let r = try await sandbox.run("""
            stages:
              broken: {kind: command, params: {run: "echo partial > $RLHF_OUTPUT_DIR/x; echo 'oops' >&2; exit 3"}}
              after: {kind: command, needs: [broken], params: {run: "true"}}
            """)
        XCTAssertEqual(r.states(), ["broken": .failed, "after": .skipped])
        let error = try XCTUnwrap(r["broken"]?.error)
        XCTAssertTrue(error.contains("exited with status 3"), error)
        let log = try String(contentsOfFile: try XCTUnwrap(r["broken"]?.log), encoding: .utf8)
        // The orchestrator's lines and the command's output share the file, in order.
        let lines = log.split(separator: "\n").map(String.init)
        let started = try XCTUnwrap(lines.firstIndex { $0.contains("running command") })
        let oops = try XCTUnwrap(lines.firstIndex(of: "oops"), log)
        let failed = try XCTUnwrap(lines.firstIndex { $0.contains("stage failed") })
        XCTAssertTrue(started < oops && oops < failed, log)
        XCTAssertEqual(try sandbox.store().artifacts().count, 0, "a failed stage stores no artifact")
    }

    func testInputVariableNames() {
        XCTAssertEqual(CommandStage.inputVariable("reward-model"), "RLHF_INPUT_REWARD_MODEL")
        XCTAssertEqual(CommandStage.inputVariable("ppo.v2"), "RLHF_INPUT_PPO_V2")
    }

    func testTwoRunnersNeverRunTheSameStageTwice() async throws {
        let sandbox = try Sandbox()
        let counter = sandbox.root.appendingPathComponent("executions.txt").path
        let yaml = """
            stages:
              slow: {kind: command, params: {run: "echo x >> '\(counter)'; sleep 1; echo done > $RLHF_OUTPUT_DIR/out"}}
            """
        _ = try sandbox.write("pipeline.yaml", yaml)
        async let a = sandbox.run(yaml)
        async let b = sandbox.run(yaml)
        let (ra, rb) = try await (a, b)
        XCTAssertEqual(Set([ra["slow"]!.state, rb["slow"]!.state]), [.succeeded, .cached])
        XCTAssertEqual(ra["slow"]?.artifact, rb["slow"]?.artifact)
        XCTAssertEqual(try String(contentsOfFile: counter, encoding: .utf8), "x\n")
    }
}
