import Crypto
import Foundation

// MARK: - Snapshot types

/// How comparisons whose labels tie (as many votes for A as for B) enter a snapshot.
public enum TiePolicy: String, Codable, CaseIterable, Sendable {
    /// Leave them out.
    case drop
    /// Keep them with `margin = 0`, response A as `chosen`.
    case margin0
}

/// One training pair for the reward model, TRL's `{prompt, chosen, rejected}` plus an optional margin.
public struct PreferencePair: Codable, Equatable, Sendable {
    public var comparisonId: Int64
    public var prompt: String
    public var chosen: String
    public var rejected: String
    /// `nil` for a majority decision; `0` for a tie kept by `TiePolicy.margin0`.
    public var margin: Double?

    public init(comparisonId: Int64, prompt: String, chosen: String, rejected: String, margin: Double?) {
        self.comparisonId = comparisonId
        self.prompt = prompt
        self.chosen = chosen
        self.rejected = rejected
        self.margin = margin
    }
}

/// The pairs of a dataset exactly as read in one transaction, with a content digest used as a cache key.
public struct ComparisonSnapshot: Codable, Equatable, Sendable {
    /// Format version of the snapshot file.
    public var version: Int = 1
    public var dataset: String
    public var ties: TiePolicy
    /// Ordered by `comparisonId`.
    public var pairs: [PreferencePair]
    /// SHA-256 (hex) of `canonicalData()`: any new or undone label that changes a pair changes it.
    public var digest: String

    public init(dataset: String, ties: TiePolicy, pairs: [PreferencePair]) {
        self.dataset = dataset
        self.ties = ties
        self.pairs = pairs
        self.digest = ""
        self.digest = Self.computeDigest(canonicalData())
    }

    /// The canonical serialisation hashed by `digest`: JSON of version, dataset, ties and pairs with sorted
    /// keys and no whitespace (the digest field excluded).
    public func canonicalData() -> Data {
        struct Canonical: Encodable { let version: Int; let dataset: String; let ties: TiePolicy; let pairs: [PreferencePair] }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain strings, integers and doubles cannot fail.
        return (try? encoder.encode(Canonical(version: version, dataset: dataset, ties: ties, pairs: pairs))) ?? Data()
    }

    static func computeDigest(_ data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    /// Writes the snapshot as JSON to a temporary file next to `url`, then renames it into place.
    /// - Throws: `PreferenceError.io` when the file cannot be written.
    public func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            let data = try encoder.encode(self)
            let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
            try data.write(to: tmp)
            if FileManager.default.fileExists(atPath: url.path) { _ = try FileManager.default.replaceItemAt(url, withItemAt: tmp) }
            else { try FileManager.default.moveItem(at: tmp, to: url) }
        } catch {
            throw PreferenceError.io(path: url.path, message: "cannot write snapshot: \(error.localizedDescription)")
        }
    }

    /// Reads a snapshot written by `write(to:)` and verifies its digest.
    /// - Throws: `PreferenceError.io` (unreadable or not a snapshot), `.corruptSnapshot` (digest mismatch).
    public static func read(from url: URL) throws -> ComparisonSnapshot {
        let snapshot: ComparisonSnapshot
        do {
            snapshot = try JSONDecoder().decode(ComparisonSnapshot.self, from: Data(contentsOf: url))
        } catch {
            throw PreferenceError.io(path: url.path, message: "not a comparison snapshot: \(error)")
        }
        let actual = computeDigest(snapshot.canonicalData())
        guard actual == snapshot.digest else {
            throw PreferenceError.corruptSnapshot(path: url.path, expected: snapshot.digest, actual: actual)
        }
        return snapshot
    }
}

// MARK: - Aggregation

/// Votes on one comparison from effective (not undone) labels; skips are not votes.
public struct VoteCount: Equatable, Sendable {
    public var a: Int
    public var b: Int
    public var tie: Int
    public init(a: Int, b: Int, tie: Int) { self.a = a; self.b = b; self.tie = tie }
}

/// The majority decision over votes: `.a` or `.b` when one side has strictly more votes, `.tie` when A and B
/// have equal votes (tie votes only count when neither side has any: then the result is `.tie`), `nil` with no votes.
public func majority(_ v: VoteCount) -> LabelChoice? {
    if v.a == 0 && v.b == 0 && v.tie == 0 { return nil }
    if v.a > v.b { return .a }
    if v.b > v.a { return .b }
    return .tie
}

extension PreferenceStore {
    // MARK: - Snapshot

    /// Reads the dataset's pairs in one `REPEATABLE READ, READ ONLY` transaction, aggregated per comparison by
    /// majority over effective labels (see `majority`), ordered by comparison id.
    /// - Parameters:
    ///   - dataset: the dataset name.
    ///   - ties: drop tied comparisons, or keep them with margin 0.
    /// - Returns: the snapshot with its digest (the reward model's cache key).
    /// - Throws: `.unknownDataset`, `.database`, `.retriesExhausted`.
    public func snapshot(dataset: String, ties: TiePolicy = .drop) throws -> ComparisonSnapshot {
        try withRetry("snapshot") { c in
            try c.transaction(isolation: "REPEATABLE READ, READ ONLY") {
                let ds = try Self.datasetId(c, dataset)
                let r = try c.execute("""
                    SELECT cm.id, p.text, ra.text, rb.text,
                           count(*) FILTER (WHERE e.choice = 'a'), count(*) FILTER (WHERE e.choice = 'b'),
                           count(*) FILTER (WHERE e.choice = 'tie')
                    FROM comparisons cm
                    JOIN effective_labels e ON e.comparison_id = cm.id AND e.choice <> 'skip'
                    JOIN prompts p ON p.id = cm.prompt_id
                    JOIN responses ra ON ra.id = cm.response_a
                    JOIN responses rb ON rb.id = cm.response_b
                    WHERE cm.dataset_id = $1
                    GROUP BY cm.id, p.text, ra.text, rb.text
                    ORDER BY cm.id
                    """, ["\(ds.id)"])
                var pairs: [PreferencePair] = []
                pairs.reserveCapacity(r.rowCount)
                for i in 0..<r.rowCount {
                    guard let id = r.int(i, 0), let p = r.string(i, 1), let a = r.string(i, 2), let b = r.string(i, 3) else { continue }
                    let votes = VoteCount(a: Int(r.int(i, 4) ?? 0), b: Int(r.int(i, 5) ?? 0), tie: Int(r.int(i, 6) ?? 0))
                    switch majority(votes) {
                    case .a: pairs.append(PreferencePair(comparisonId: id, prompt: p, chosen: a, rejected: b, margin: nil))
                    case .b: pairs.append(PreferencePair(comparisonId: id, prompt: p, chosen: b, rejected: a, margin: nil))
                    case .tie: if ties == .margin0 { pairs.append(PreferencePair(comparisonId: id, prompt: p, chosen: a, rejected: b, margin: 0)) }
                    default: break
                    }
                }
                return ComparisonSnapshot(dataset: dataset, ties: ties, pairs: pairs)
            }
        }
    }
}
