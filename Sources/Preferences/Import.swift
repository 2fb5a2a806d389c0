import Foundation

// MARK: - Import report

/// What an import did. Re-importing the same file gives `comparisonsAdded == 0` and `labelsAdded == 0`.
public struct ImportReport: Codable, Equatable, Sendable {
    public var file: String
    public var format: ImportFormat
    public var dataset: String
    /// Non-blank lines read.
    public var lines: Int
    /// Comparisons parsed from valid lines (ASQA gives 6 per line).
    public var records: Int
    public var comparisonsAdded: Int
    /// Records whose comparison was already stored (same prompt and replies, by content hash).
    public var comparisonsExisting: Int
    public var labelsAdded: Int
    public var invalid: [ImportIssue]
    public var skipped: [ImportIssue]
}

extension PreferenceStore {
    // MARK: - Import

    /// Imports a comparison file into `dataset` (created if missing) in one transaction, via `COPY`.
    ///
    /// Prompts, responses and comparisons are keyed by SHA-256 content hashes, so re-importing the same file
    /// adds nothing. Unless `unlabeled`, each record's judgement becomes a label by the annotator
    /// `import:<format>` with a UUID derived from the comparison hash (idempotent too).
    /// - Parameters:
    ///   - url: a JSONL file (`ImportFormat` describes each format; schemas in `annotations/schemas/`).
    ///   - format: the file's format.
    ///   - dataset: the dataset name.
    ///   - unlabeled: store comparisons only; they wait for `rlhf label`.
    ///   - strict: all-or-nothing: any invalid line aborts the import before anything is written.
    /// - Returns: counts plus invalid and skipped lines by line number.
    /// - Throws: `PreferenceError.io` (unreadable file), `.invalidImport` (strict and invalid lines),
    ///   `.database` / `.retriesExhausted`.
    public func importFile(_ url: URL, format: ImportFormat, dataset: String, unlabeled: Bool, strict: Bool) throws -> ImportReport {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw PreferenceError.io(path: url.path, message: "cannot read: \(error.localizedDescription)")
        }
        let parsed = parseImport(data, format: format)
        if strict && !parsed.invalid.isEmpty {
            throw PreferenceError.invalidImport(file: url.path, issues: parsed.invalid)
        }
        let counts = try importRecords(parsed.records, format: format, dataset: dataset, unlabeled: unlabeled)
        let report = ImportReport(file: url.path, format: format, dataset: dataset, lines: parsed.lines,
                                  records: parsed.records.count, comparisonsAdded: counts.added,
                                  comparisonsExisting: parsed.records.count - counts.added - counts.duplicateInFile,
                                  labelsAdded: counts.labels, invalid: parsed.invalid, skipped: parsed.skipped)
        logger.info("imported comparisons", metadata: [
            "file": "\(url.path)", "dataset": "\(dataset)", "added": "\(counts.added)", "labels": "\(counts.labels)",
            "invalid": "\(parsed.invalid.count)", "skipped": "\(parsed.skipped.count)"])
        return report
    }

    /// Stores parsed records (see `importFile`); returns (comparisons added, labels added, in-file duplicates).
    func importRecords(_ records: [ImportRecord], format: ImportFormat, dataset: String, unlabeled: Bool)
        throws -> (added: Int, labels: Int, duplicateInFile: Int)
    {
        try withRetry("import") { c in
            try c.transaction {
                let datasetId = try Self.ensureDataset(c, dataset, overlap: nil)
                try c.execute("""
                    CREATE TEMP TABLE import_stage (line integer, prompt text, a text, b text, choice text) ON COMMIT DROP
                    """)
                try c.copyIn("COPY import_stage (line, prompt, a, b, choice) FROM STDIN",
                             rows: records.map { ["\($0.line)", $0.prompt, $0.responseA, $0.responseB, $0.choice.rawValue] })
                try c.execute("""
                    CREATE TEMP TABLE import_hashed ON COMMIT DROP AS
                    SELECT line, prompt, a, b, choice,
                           sha256(convert_to(prompt, 'UTF8')) AS ph,
                           sha256(convert_to(a, 'UTF8')) AS ah,
                           sha256(convert_to(b, 'UTF8')) AS bh
                    FROM import_stage
                    """)
                try c.execute("ALTER TABLE import_hashed ADD COLUMN ch bytea")
                try c.execute("UPDATE import_hashed SET ch = sha256(ph || ah || bh)")
                try c.execute("ANALYZE import_hashed")
                let distinct = try c.execute("SELECT count(DISTINCT ch) FROM import_hashed").int(0, 0) ?? 0
                let ds = "\(datasetId)"
                try c.execute("""
                    INSERT INTO prompts (dataset_id, text, content_hash)
                    SELECT $1, prompt, ph FROM (
                        SELECT DISTINCT ON (ph) line, prompt, ph FROM import_hashed ORDER BY ph, line) x
                    ORDER BY line
                    ON CONFLICT (dataset_id, content_hash) DO NOTHING
                    """, [ds])
                try c.execute("""
                    INSERT INTO responses (prompt_id, text, content_hash, origin, source)
                    SELECT p.id, x.text, x.h, 'import', $2 FROM (
                        SELECT DISTINCT ON (ph, h) line, k, ph, text, h FROM (
                            SELECT line, 0 AS k, ph, a AS text, ah AS h FROM import_hashed
                            UNION ALL SELECT line, 1, ph, b, bh FROM import_hashed) u
                        ORDER BY ph, h, line, k) x
                    JOIN prompts p ON p.dataset_id = $1 AND p.content_hash = x.ph
                    ORDER BY x.line, x.k
                    ON CONFLICT (prompt_id, content_hash) DO NOTHING
                    """, [ds, format.rawValue])
                let added = try c.execute("""
                    INSERT INTO comparisons (dataset_id, prompt_id, response_a, response_b, content_hash)
                    SELECT $1, p.id, ra.id, rb.id, x.ch FROM (
                        SELECT DISTINCT ON (ch) line, ph, ah, bh, ch FROM import_hashed ORDER BY ch, line) x
                    JOIN prompts p ON p.dataset_id = $1 AND p.content_hash = x.ph
                    JOIN responses ra ON ra.prompt_id = p.id AND ra.content_hash = x.ah
                    JOIN responses rb ON rb.prompt_id = p.id AND rb.content_hash = x.bh
                    ORDER BY x.line
                    ON CONFLICT (dataset_id, content_hash) DO NOTHING
                    """, [ds]).commandTuples
                var labels: Int64 = 0
                if !unlabeled {
                    let annotator = try Self.ensureAnnotator(c, format.annotatorName, kind: "import")
                    let a = "\(annotator)"
                    labels = try c.execute("""
                        INSERT INTO labels (label_uuid, comparison_id, annotator_id, choice)
                        SELECT md5('rlhf-import:' || $2::bigint::text || ':' || $1::bigint::text || ':' || encode(x.ch, 'hex'))::uuid,
                               cm.id, $2, x.choice
                        FROM (SELECT DISTINCT ON (ch) line, ch, choice FROM import_hashed ORDER BY ch, line) x
                        JOIN comparisons cm ON cm.dataset_id = $1 AND cm.content_hash = x.ch
                        ORDER BY x.line
                        ON CONFLICT (label_uuid) DO NOTHING
                        """, [ds, a]).commandTuples
                    try c.execute("""
                        INSERT INTO assignments (comparison_id, annotator_id, lease_expires_at, completed_at)
                        SELECT cm.id, $2, now(), now()
                        FROM import_hashed x JOIN comparisons cm ON cm.dataset_id = $1 AND cm.content_hash = x.ch
                        ON CONFLICT (comparison_id, annotator_id) DO NOTHING
                        """, [ds, a])
                    try c.execute("""
                        UPDATE comparisons cm SET filled = true
                        FROM datasets d WHERE d.id = cm.dataset_id AND cm.dataset_id = $1 AND NOT cm.filled
                          AND cm.content_hash IN (SELECT ch FROM import_hashed)
                          AND (SELECT count(*) FROM assignments s WHERE s.comparison_id = cm.id
                               AND s.completed_at IS NOT NULL AND NOT s.skipped) >= d.overlap
                        """, [ds])
                }
                return (Int(added), Int(labels), records.count - Int(distinct))
            }
        }
    }

    static func ensureAnnotator(_ c: PostgresConnection, _ name: String, kind: String) throws -> Int64 {
        let r = try c.execute("""
            INSERT INTO annotators (name, kind) VALUES ($1, $2)
            ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id
            """, [name, kind], prepareAs: "ensure_annotator")
        guard let id = r.int(0, 0) else { throw PreferenceError.database(sqlState: nil, message: "no annotator id returned", query: "ensure_annotator") }
        return id
    }
}
