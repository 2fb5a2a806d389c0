import ArgumentParser
import Foundation
import Pipeline

/// `rlhf artifacts`: the content-addressed artifacts in the work directory.
struct ArtifactsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "artifacts", abstract: "List stored artifacts (digest, kind, stage, size, path), newest first.")

    @OptionGroup var options: WorkdirOptions

    @Option(name: .long, help: ArgumentHelp("Only artifacts produced by stage STAGE.", valueName: "STAGE"))
    var stage: String?

    func run() throws {
        try reportingErrors {
            let store = try options.open()
            let artifacts = try store.artifacts().filter { stage == nil || $0.stage == stage }
            if options.json {
                print(jsonLine(["artifacts": artifacts.map { a -> [String: Any] in
                    ["digest": a.digest, "kind": a.kind, "stage": a.stage, "path": store.artifactURL(a.digest).path,
                     "bytes": a.bytes, "files": a.files, "created": a.created]
                }]))
                return
            }
            print(renderTable(["DIGEST", "KIND", "STAGE", "SIZE", "FILES", "CREATED", "PATH"], artifacts.map { a in
                [String(a.digest.prefix(12)), a.kind, a.stage, formatBytes(a.bytes), String(a.files), formatTime(a.created),
                 store.artifactURL(a.digest).path]
            }))
        }
    }
}
