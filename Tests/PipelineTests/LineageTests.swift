import XCTest
@testable import Pipeline

/// Writes what `context.lineage` says into `lineage.txt` (one line per upstream stage).
struct LineageProbeStage: StageKind {
    static let name = "test-lineage-probe"
    static let version = "1"
    static let parameters: ParameterSchema = [ParameterSpec("tag", .string, default: .string(""), doc: "Unused.")]
    init() {}
    func run(_ context: StageContext) async throws {
        let l = context.lineage
        var lines = ["pipeline=\(l.pipeline) file=\(URL(fileURLWithPath: l.file).lastPathComponent)"]
        for s in l.stages {
            lines.append("\(s.name) kind=\(s.kind) v=\(s.version) params=\(ParameterValue.map(s.params).canonicalJSON) seed=\(s.seed) "
                         + "artifact=\(s.artifact ?? "nil") cached=\(s.cached) inputs=\(s.inputs.map { "\($0.name):\($0.digest)" }) "
                         + "score=\(s.metrics["score"].map { String($0) } ?? "nil") headline=\(s.headline)")
        }
        try lines.joined(separator: "\n").write(to: context.outputDirectory.appendingPathComponent("lineage.txt"),
                                                 atomically: true, encoding: .utf8)
    }
}

/// `StageContext.lineage`: the transitive upstream stages with parameters, artifacts, data digests and metrics.
final class LineageTests: XCTestCase {
    func testLineageListsTransitiveUpstreamInOrderWithDataDigestsAndMetrics() async throws {
        let sandbox = try Sandbox()
        let data = try sandbox.write("data.txt", "some corpus")
        let tag = UUID().uuidString
        let yaml = """
            name: lineage
            seed: 7
            stages:
              a: {kind: test-write, params: {text: A, tag: \(tag), files: [data.txt]}}
              b: {kind: test-write, needs: [a], params: {text: BB, tag: \(tag)}}
              side: {kind: test-write, params: {text: S, tag: \(tag)}}
              probe: {kind: test-lineage-probe, needs: [b]}
            """
        let first = try await sandbox.run(yaml)
        let text = try String(contentsOfFile: try XCTUnwrap(first["probe"]?.path) + "/lineage.txt", encoding: .utf8)
        let lines = text.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 3, "a and b, not the unrelated stage `side`: \(text)")
        XCTAssertEqual(lines[0], "pipeline=lineage file=pipeline.yaml")
        let dataDigest = try ContentDigest.of(data)
        let aArtifact = try XCTUnwrap(first["a"]?.artifact)
        XCTAssertTrue(lines[1].hasPrefix("a kind=test-write v=1 params={\"fail\":false,\"files\":[\"data.txt\"],"), lines[1])
        XCTAssertTrue(lines[1].contains("seed=7 artifact=\(aArtifact) cached=false"), lines[1])
        XCTAssertTrue(lines[1].contains("inputs=[\"param:files:data.txt:\(dataDigest)\"]"), lines[1])
        XCTAssertTrue(lines[1].hasSuffix("score=1.0 headline=[\"score\"]"), "score = len(\"A\"): \(lines[1])")
        XCTAssertTrue(lines[2].hasPrefix("b kind=test-write"), lines[2])
        XCTAssertTrue(lines[2].contains("artifact=\(try XCTUnwrap(first["b"]?.artifact))"), lines[2])
        XCTAssertTrue(lines[2].hasSuffix("score=3.0 headline=[\"score\"]"), "score = len(\"BBA\"): \(lines[2])")

        // Outside the orchestrator the lineage is empty.
        XCTAssertEqual(StageLineage.empty.stages, [])
    }
}
