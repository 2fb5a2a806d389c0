import Foundation

// MARK: - Stats types

/// Counts per choice (effective labels only; undone labels excluded).
public struct ChoiceCounts: Codable, Equatable, Sendable {
    public var a = 0, b = 0, tie = 0, skip = 0
    public var total: Int { a + b + tie + skip }
    mutating func add(_ c: LabelChoice) {
        switch c { case .a: a += 1; case .b: b += 1; case .tie: tie += 1; case .skip: skip += 1 }
    }
}

/// One dataset's counts and agreement.
public struct DatasetStats: Codable, Equatable, Sendable {
    public var dataset: String
    public var overlap: Int
    public var comparisons: Int
    /// Comparisons with at least one a/b/tie label.
    public var labelledComparisons: Int
    public var choices: ChoiceCounts
    /// Over comparisons with 2+ a/b/tie labels (categories a, b, tie); `nil` when there are none.
    public var fleissKappa: Double?
    public var fleissItems: Int
    public var annotators: [AnnotatorStats]
    /// Cohen's kappa for each annotator pair with shared a/b/tie-labelled comparisons.
    public var annotatorPairs: [AnnotatorPairStats]
}

/// One annotator's counts in a dataset and agreement with the others' majority.
public struct AnnotatorStats: Codable, Equatable, Sendable {
    public var annotator: String
    public var choices: ChoiceCounts
    /// Share of this annotator's a/b/tie labels equal to the strict majority of the *other* annotators' labels
    /// on the same comparison (leave-one-out); `nil` when no such comparison exists.
    public var agreementWithMajority: Double?
    public var majorityItems: Int
}

/// Cohen's kappa of two annotators on their shared comparisons.
public struct AnnotatorPairStats: Codable, Equatable, Sendable {
    public var annotator1: String
    public var annotator2: String
    public var sharedItems: Int
    public var cohensKappa: Double?
    public var agreement: Double
}

extension PreferenceStore {
    // MARK: - Stats

    /// Counts and agreement statistics per dataset (all datasets when `dataset` is nil), read in one
    /// REPEATABLE READ transaction.
    /// - Throws: `.unknownDataset`, `.database`, `.retriesExhausted`.
    public func stats(dataset: String? = nil) throws -> [DatasetStats] {
        try withRetry("stats") { c in
            try c.transaction(isolation: "REPEATABLE READ, READ ONLY") {
                if let dataset { _ = try Self.datasetId(c, dataset) }
                let ds = try c.execute("""
                    SELECT d.id, d.name, d.overlap, (SELECT count(*) FROM comparisons cm WHERE cm.dataset_id = d.id)
                    FROM datasets d WHERE $1::text IS NULL OR d.name = $1 ORDER BY d.name
                    """, [dataset])
                var out: [DatasetStats] = []
                for i in 0..<ds.rowCount {
                    guard let id = ds.int(i, 0), let name = ds.string(i, 1) else { continue }
                    let labels = try c.execute("""
                        SELECT e.comparison_id, a.name, e.choice FROM effective_labels e
                        JOIN annotators a ON a.id = e.annotator_id JOIN comparisons cm ON cm.id = e.comparison_id
                        WHERE cm.dataset_id = $1 ORDER BY e.comparison_id, a.name
                        """, ["\(id)"])
                    var rows: [(Int64, String, LabelChoice)] = []
                    for j in 0..<labels.rowCount {
                        if let cid = labels.int(j, 0), let who = labels.string(j, 1), let ch = labels.string(j, 2).flatMap(LabelChoice.init) {
                            rows.append((cid, who, ch))
                        }
                    }
                    out.append(aggregateStats(dataset: name, overlap: Int(ds.int(i, 2) ?? 1), comparisons: Int(ds.int(i, 3) ?? 0), labels: rows))
                }
                return out
            }
        }
    }
}

/// Aggregates effective labels `(comparison, annotator, choice)` of one dataset into `DatasetStats`.
public func aggregateStats(dataset: String, overlap: Int, comparisons: Int, labels: [(Int64, String, LabelChoice)]) -> DatasetStats {
    let categories: [LabelChoice] = [.a, .b, .tie]
    var choices = ChoiceCounts()
    var perAnnotator: [String: ChoiceCounts] = [:]
    var byItem: [Int64: [String: LabelChoice]] = [:]
    for (cid, who, ch) in labels {
        choices.add(ch)
        perAnnotator[who, default: ChoiceCounts()].add(ch)
        if ch != .skip { byItem[cid, default: [:]][who] = ch }
    }
    let items = byItem.keys.sorted()
    let fleissCounts = items.compactMap { id -> [Int]? in
        let votes = byItem[id]!.values
        return votes.count >= 2 ? categories.map { c in votes.filter { $0 == c }.count } : nil
    }
    // Agreement with the leave-one-out majority.
    var agreeWith: [String: (agree: Int, n: Int)] = [:]
    for id in items {
        let votes = byItem[id]!
        guard votes.count >= 2 else { continue }
        for (who, mine) in votes {
            let others = votes.filter { $0.key != who }.map(\.value)
            let counts = categories.map { c in (c, others.filter { $0 == c }.count) }.sorted { $0.1 > $1.1 }
            guard counts[0].1 > counts[1].1 else { continue }
            agreeWith[who, default: (0, 0)].n += 1
            if counts[0].0 == mine { agreeWith[who, default: (0, 0)].agree += 1 }
        }
    }
    let names = perAnnotator.keys.sorted()
    var pairs: [AnnotatorPairStats] = []
    for (i, x) in names.enumerated() {
        for y in names[(i + 1)...] {
            let shared = items.compactMap { id -> (LabelChoice, LabelChoice)? in
                guard let u = byItem[id]![x], let v = byItem[id]![y] else { return nil }
                return (u, v)
            }
            guard !shared.isEmpty else { continue }
            let agree = Double(shared.filter { $0.0 == $0.1 }.count) / Double(shared.count)
            pairs.append(AnnotatorPairStats(annotator1: x, annotator2: y, sharedItems: shared.count,
                                            cohensKappa: cohensKappa(shared), agreement: agree))
        }
    }
    return DatasetStats(
        dataset: dataset, overlap: overlap, comparisons: comparisons, labelledComparisons: items.count,
        choices: choices, fleissKappa: fleissKappa(fleissCounts), fleissItems: fleissCounts.count,
        annotators: names.map { n in
            let a = agreeWith[n]
            return AnnotatorStats(annotator: n, choices: perAnnotator[n]!,
                                  agreementWithMajority: a.flatMap { $0.n > 0 ? Double($0.agree) / Double($0.n) : nil },
                                  majorityItems: a?.n ?? 0)
        },
        annotatorPairs: pairs)
}
