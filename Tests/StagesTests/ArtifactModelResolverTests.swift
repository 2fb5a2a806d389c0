import Export
import Foundation
import Pipeline
import Stages
import XCTest

/// `--model` resolution in a work directory: digests, prefixes, `PIPELINE:STAGE`, and the errors.
final class ArtifactModelResolverTests: XCTestCase {
    func yaml(_ text: String) -> String {
        """
        name: resolve
        seed: 1
        stages:
          base: {kind: command, params: {run: "echo \(text) > \\"$RLHF_OUTPUT_DIR\\"/out.txt"}}
          broken: {kind: command, params: {run: "exit 3"}}
        """
    }

    func testDigestsPrefixesAndPipelineStagesResolveToTheLatestSuccessfulArtifact() async throws {
        let sandbox = try StageSandbox()
        let first = try await sandbox.run(yaml("one"))
        let resolver = ArtifactModelResolver(workdir: sandbox.workdir)
        let digest1 = try XCTUnwrap(first["base"]?.artifact)
        let dir1 = sandbox.workdir.appendingPathComponent("artifacts/\(digest1)").standardizedFileURL
        XCTAssertEqual(try resolver.resolve(argument: digest1), dir1)
        XCTAssertEqual(try resolver.resolve(argument: "sha256:" + digest1.prefix(10)), dir1)
        XCTAssertEqual(try resolver.resolve(argument: String(digest1.prefix(6)).uppercased()), dir1)
        XCTAssertEqual(try resolver.resolve(argument: "resolve:base"), dir1, "by pipeline name")
        XCTAssertEqual(try resolver.resolve(argument: "pipeline:base"), dir1, "by the file's base name")
        XCTAssertEqual(try resolver.resolve(argument: sandbox.root.appendingPathComponent("pipeline.yaml").path + ":base"), dir1, "by file path")

        // A changed stage: PIPELINE:STAGE follows the newest run; a cached run counts as successful.
        let second = try await sandbox.run(yaml("two"))
        let dir2 = sandbox.workdir.appendingPathComponent("artifacts/\(try XCTUnwrap(second["base"]?.artifact))").standardizedFileURL
        XCTAssertEqual(try resolver.resolve(argument: "resolve:base"), dir2)
        _ = try await sandbox.run(yaml("one"))
        XCTAssertEqual(try resolver.resolve(argument: "resolve:base"), dir1)
        // Directories resolve as they are.
        XCTAssertEqual(try resolver.resolve(argument: dir2.path), dir2)
    }

    func testUnresolvableReferencesSayWhy() async throws {
        let sandbox = try StageSandbox()
        let missingStore = ArtifactModelResolver(workdir: sandbox.workdir)
        XCTAssertThrowsError(try missingStore.resolve(argument: "resolve:base")) { error in
            XCTAssertTrue("\(error)".contains("rlhf.sqlite"), "\(error)")
        }
        _ = try await sandbox.run(yaml("one"))
        let resolver = ArtifactModelResolver(workdir: sandbox.workdir)
        func message(_ text: String) -> String {
            do { _ = try resolver.resolve(argument: text); return "resolved" } catch { return "\(error)" }
        }
        XCTAssertTrue(message("resolve:nope").contains("has no stage 'nope' (stages: base, broken)"), message("resolve:nope"))
        XCTAssertTrue(message("resolve:broken").contains("stage 'broken' never succeeded"), message("resolve:broken"))
        XCTAssertTrue(message("other:base").contains("no run of pipeline 'other'") && message("other:base").contains("known: resolve"),
                      message("other:base"))
        XCTAssertTrue(message("0000ffff").contains("no artifact in"), message("0000ffff"))
        XCTAssertTrue(message("no/such/dir").contains("no such directory"), message("no/such/dir"))
    }
}
