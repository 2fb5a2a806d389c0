import ArgumentParser
import Foundation
import Pipeline

/// `rlhf cache verify|gc`: check and prune the artifact cache.
struct CacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache", abstract: "Verify or prune the artifact cache.", subcommands: [Verify.self, GC.self])

    /// `rlhf cache verify`: re-hashes every artifact; exit 1 naming any corrupt one.
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-hash every artifact; exit 1 and name any corrupt one.",
            discussion: "With --evict, corrupt artifacts are dropped from the cache and moved to <workdir>/quarantine/ (the stage re-runs next time).")

        @OptionGroup var options: WorkdirOptions

        @Flag(name: .long, help: "Remove corrupt artifacts from the cache (moved to quarantine/, not deleted).")
        var evict = false

        func run() throws {
            let corrupt: [(ArtifactRecord, String)] = try reportingErrors {
                let store = try options.open()
                var bad: [(ArtifactRecord, String)] = []
                for a in try store.artifacts() {
                    if case .corrupt(let reason) = ArtifactVerifier.verify(a, store: store, full: true) {
                        bad.append((a, reason))
                        if evict { try ArtifactVerifier.evict(a, store: store) }
                    }
                }
                let total = try store.artifacts().count + (evict ? bad.count : 0)
                if options.json {
                    print(jsonLine(["verified": total, "corrupt": bad.map { ["digest": $0.0.digest, "stage": $0.0.stage,
                                                                             "path": store.artifactURL($0.0.digest).path, "reason": $0.1] },
                                    "evicted": evict]))
                } else {
                    for (a, reason) in bad {
                        print("corrupt: \(a.digest) (stage \(a.stage), \(a.kind)) at \(store.artifactURL(a.digest).path): \(reason)")
                    }
                    print("\(total) artifacts verified, \(bad.count) corrupt" + (bad.isEmpty || evict ? "" : "; run `rlhf cache verify --evict` to drop them"))
                }
                return bad
            }
            if !corrupt.isEmpty { throw ExitCode.failure }
        }
    }

    /// `rlhf cache gc`: deletes artifacts no recent run used, and leftovers of dead processes.
    struct GC: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gc",
            abstract: "Delete artifacts not used by the last N runs of each pipeline, and temporary files of dead processes.")

        @OptionGroup var options: WorkdirOptions

        @Option(name: .long, help: "Keep every artifact produced, served or consumed by the newest N runs of each pipeline file.")
        var keepLast: Int = 5

        @Flag(name: .long, help: "Print what would be deleted; delete nothing.")
        var dryRun = false

        func run() throws {
            try reportingErrors {
                let store = try options.open()
                try store.reapStale()
                if let running = try store.runs(limit: 1000).first(where: { $0.state == .running }) {
                    throw PipelineError.database(path: store.databaseURL.path,
                                                 message: "run \(running.id) (pid \(running.pid) on \(running.host)) is still running",
                                                 fix: "wait for it to finish before collecting garbage")
                }
                let keep = try store.artifactsReferenced(byLastRuns: max(0, keepLast))
                var removed: [ArtifactRecord] = []
                var freed: Int64 = 0
                for a in try store.artifacts() where !keep.contains(a.digest) {
                    removed.append(a)
                    freed += a.bytes
                    if !dryRun {
                        try store.forgetArtifact(a.digest)
                        try? FileManager.default.removeItem(at: store.artifactURL(a.digest))
                    }
                }
                var temporary = 0
                let tmp = store.workdir.appendingPathComponent("tmp")
                for name in (try? FileManager.default.contentsOfDirectory(atPath: tmp.path)) ?? [] {
                    // out-STAGE-PID-UUID / snapshot-STAGE-PID-UUID: remove when the pid is dead.
                    let parts = name.split(separator: "-")
                    guard parts.count >= 3, let pid = parts.dropLast(5).last.flatMap({ Int32($0) }),
                          kill(pid, 0) != 0 && errno == ESRCH else { continue }
                    temporary += 1
                    if !dryRun { try? FileManager.default.removeItem(at: tmp.appendingPathComponent(name)) }
                }
                if options.json {
                    print(jsonLine(["removed": removed.map(\.digest), "bytes": freed, "temporary": temporary, "dry_run": dryRun]))
                } else {
                    for a in removed { print("\(dryRun ? "would remove" : "removed") \(a.digest.prefix(12)) (\(a.stage), \(formatBytes(a.bytes)))") }
                    print("\(dryRun ? "would free" : "freed") \(formatBytes(freed)) in \(removed.count) artifacts; \(temporary) leftover temporary directories")
                }
            }
        }
    }
}
