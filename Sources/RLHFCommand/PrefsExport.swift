import ArgumentParser
import Foundation
import Preferences

/// `rlhf prefs export --dataset NAME --format trl --out FILE`.
struct PrefsExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export majority-aggregated pairs as TRL JSONL, or as a snapshot with its digest.",
        discussion: """
            trl       one {"prompt", "chosen", "rejected"[, "margin"]} object per line, ordered by comparison id
            snapshot  the ComparisonSnapshot JSON the reward-model stage reads (with its sha256 digest)
            The digest of the rows read is printed on stdout either way.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case trl, snapshot }

    @Option(help: "Dataset name.") var dataset: String
    @Option(help: "trl or snapshot.") var format: Format = .trl
    @Option(help: "Ties (equal votes for both sides): drop, or margin0 (kept with margin 0).") var ties: TiePolicy = .drop
    @Option(help: "Output file (written to a temporary name, then renamed).") var out: String
    @OptionGroup var database: DatabaseOptions

    func run() throws {
        let store = try database.connectMigrated("rlhf.prefs")
        let snapshot = try store.snapshot(dataset: dataset, ties: ties)
        let url = URL(fileURLWithPath: out)
        switch format {
        case .snapshot:
            try snapshot.write(to: url)
        case .trl:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            struct Row: Encodable { let prompt, chosen, rejected: String; let margin: Double? }
            var data = Data()
            for p in snapshot.pairs {
                data.append(try encoder.encode(Row(prompt: p.prompt, chosen: p.chosen, rejected: p.rejected, margin: p.margin)))
                data.append(0x0A)
            }
            let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp")
            do {
                try data.write(to: tmp)
                if FileManager.default.fileExists(atPath: url.path) { _ = try FileManager.default.replaceItemAt(url, withItemAt: tmp) }
                else { try FileManager.default.moveItem(at: tmp, to: url) }
            } catch {
                throw ValidationError("cannot write \(out): \(error.localizedDescription)")
            }
        }
        emit("\(out): \(snapshot.pairs.count) pairs from dataset \(dataset) (ties: \(ties.rawValue)); sha256 \(snapshot.digest)")
    }
}

extension TiePolicy: ExpressibleByArgument {}
