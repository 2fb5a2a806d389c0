import XCTest
@testable import Pipeline

/// `kill -9` of a real `rlhf run` process, then a re-run: finished stages cached, the interrupted one
/// resumed from its checkpoint, the stale "running" record detected.
final class ResumeTests: XCTestCase {
    /// The `rlhf` executable built next to the test bundle.
    func rlhfBinary() throws -> URL {
        var dir = Bundle.main.bundleURL
        for _ in 0..<3 {
            let candidate = dir.appendingPathComponent("rlhf")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        throw XCTSkip("the rlhf executable is not built next to the tests (\(Bundle.main.bundleURL.path)); run `swift build` first")
    }

    func testKillDashNineThenResume() async throws {
        let rlhf = try rlhfBinary()
        let sandbox = try Sandbox()
        // `slow` counts to 8, one step per 0.25 s, keeping its position in the checkpoint directory.
        let pipeline = try sandbox.write("pipeline.yaml", """
            name: resume
            stages:
              fast:
                kind: command
                params: {run: "echo ready > $RLHF_OUTPUT_DIR/ready"}
              slow:
                kind: command
                needs: [fast]
                params:
                  run: |
                    n=$(cat "$RLHF_CHECKPOINT_DIR/step" 2>/dev/null || echo 0)
                    echo "start $n" >> "$RLHF_CHECKPOINT_DIR/starts"
                    while [ "$n" -lt 8 ]; do n=$((n + 1)); echo "$n" > "$RLHF_CHECKPOINT_DIR/step"; sleep 0.25; done
                    cp "$RLHF_CHECKPOINT_DIR/starts" "$RLHF_OUTPUT_DIR/starts"
            """)
        let process = Process()
        process.executableURL = rlhf
        process.arguments = ["run", pipeline.path, "--workdir", sandbox.workdir.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let checkpoints = sandbox.workdir.appendingPathComponent("checkpoints")
        func step() -> Int {
            let dirs = (try? FileManager.default.contentsOfDirectory(atPath: checkpoints.path)) ?? []
            return dirs.compactMap { try? String(contentsOfFile: checkpoints.path + "/\($0)/step", encoding: .utf8) }
                .compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }.max() ?? 0
        }
        let deadline = Date().addingTimeInterval(60)
        while step() < 3 && Date() < deadline && process.isRunning { try await Task.sleep(nanoseconds: 50_000_000) }
        XCTAssertTrue(process.isRunning, "rlhf finished before it could be killed")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .uncaughtSignal)
        let reached = step()
        XCTAssertGreaterThanOrEqual(reached, 3)
        XCTAssertLessThan(reached, 8)
        if ChildProcess.setpriv != nil {
            // The command died with rlhf (pdeathsig): its counter stops.
            try await Task.sleep(nanoseconds: 800_000_000)
            let settled = step()
            try await Task.sleep(nanoseconds: 800_000_000)
            XCTAssertEqual(step(), settled, "the orphaned command kept running after kill -9")
        }
        let before = try sandbox.store().allStageRuns()
        XCTAssertEqual(before.first { $0.stage == "slow" }?.state, .running, "the dead process left a running record")

        // Re-run with the real binary: fast is cached, slow resumes, the stale record is detected.
        let rerun = Process()
        rerun.executableURL = rlhf
        rerun.arguments = ["run", pipeline.path, "--workdir", sandbox.workdir.path, "--json"]
        let out = Pipe()
        rerun.standardOutput = out
        rerun.standardError = FileHandle.nullDevice
        try rerun.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        rerun.waitUntilExit()
        XCTAssertEqual(rerun.terminationStatus, 0)
        let lastLine = try XCTUnwrap(String(decoding: data, as: UTF8.self).split(separator: "\n").last)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(lastLine.utf8)) as? [String: Any])
        let stages = try XCTUnwrap(json["stages"] as? [[String: Any]])
        XCTAssertEqual(stages.map { $0["state"] as? String }, ["cached", "succeeded"])
        let slowPath = try XCTUnwrap(stages[1]["path"] as? String)
        let starts = try String(contentsOfFile: slowPath + "/starts", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(starts.count, 2)
        XCTAssertEqual(starts.first, "start 0")
        let resumedAt = Int(starts[1].split(separator: " ")[1]) ?? 0
        XCTAssertGreaterThanOrEqual(resumedAt, 3, "resumed from the checkpoint, not from scratch")
        let after = try sandbox.store().allStageRuns()
        XCTAssertEqual(after.first { $0.stage == "slow" }?.state, .interrupted)
        XCTAssertTrue(after.first { $0.stage == "slow" }?.error?.contains("died") ?? false)
        XCTAssertEqual(try sandbox.store().runs().last?.state, .interrupted)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: checkpoints.path), [], "checkpoint removed after success")
    }
}
