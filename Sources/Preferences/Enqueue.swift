import Foundation

// MARK: - Generated responses

/// A completion sampled from a model, with where it came from (for the `sample-pairs` stage).
public struct GeneratedResponse: Codable, Equatable, Sendable {
    public var text: String
    /// Content digest of the model artifact that generated it (the pipeline cache key).
    public var modelDigest: String
    /// Sampling settings, e.g. `temperature`, `top_p`, `max_new_tokens` (tokens), `seed`; stored as JSON.
    public var generationParams: [String: Double]

    public init(text: String, modelDigest: String, generationParams: [String: Double]) {
        self.text = text
        self.modelDigest = modelDigest
        self.generationParams = generationParams
    }
}

extension PreferenceStore {
    /// Queues model-generated pairs as unlabelled comparisons for `rlhf label`, in one transaction.
    ///
    /// Idempotent by content hash (prompt, A text, B text): queuing the same pair again adds nothing. A response
    /// text already stored for the prompt keeps its first origin. Pairs whose two texts are equal are skipped.
    /// - Parameters:
    ///   - dataset: created if missing.
    ///   - pairs: prompt and two completions (A is shown first or second at random by the UI).
    /// - Returns: the number of comparisons added.
    /// - Throws: `.invalidArgument` (NUL in a text), `.database`, `.retriesExhausted`.
    public func enqueueComparisons(dataset: String, pairs: [(prompt: String, a: GeneratedResponse, b: GeneratedResponse)]) throws -> Int {
        for (i, p) in pairs.enumerated() where [p.prompt, p.a.text, p.b.text].contains(where: { $0.utf8.contains(0) }) {
            throw PreferenceError.invalidArgument("pair \(i) contains a NUL character, which PostgreSQL text cannot store")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        func params(_ r: GeneratedResponse) throws -> String {
            String(decoding: try encoder.encode(r.generationParams), as: UTF8.self)
        }
        let rows: [[String?]] = try pairs.enumerated().compactMap { i, p in
            p.a.text == p.b.text ? nil : ["\(i)", p.prompt, p.a.text, p.a.modelDigest, try params(p.a), p.b.text, p.b.modelDigest, try params(p.b)]
        }
        return try withRetry("enqueue") { c in
            try c.transaction {
                let ds = "\(try Self.ensureDataset(c, dataset, overlap: nil))"
                try c.execute("""
                    CREATE TEMP TABLE enqueue_stage (k integer, prompt text, a text, a_digest text, a_params jsonb,
                                                     b text, b_digest text, b_params jsonb) ON COMMIT DROP
                    """)
                try c.copyIn("COPY enqueue_stage FROM STDIN", rows: rows)
                try c.execute("""
                    CREATE TEMP TABLE enqueue_hashed ON COMMIT DROP AS
                    SELECT *, sha256(convert_to(prompt, 'UTF8')) AS ph, sha256(convert_to(a, 'UTF8')) AS ah,
                              sha256(convert_to(b, 'UTF8')) AS bh FROM enqueue_stage
                    """)
                try c.execute("ALTER TABLE enqueue_hashed ADD COLUMN ch bytea")
                try c.execute("UPDATE enqueue_hashed SET ch = sha256(ph || ah || bh)")
                try c.execute("ANALYZE enqueue_hashed")
                try c.execute("""
                    INSERT INTO prompts (dataset_id, text, content_hash)
                    SELECT $1, prompt, ph FROM (SELECT DISTINCT ON (ph) k, prompt, ph FROM enqueue_hashed ORDER BY ph, k) x
                    ORDER BY k ON CONFLICT (dataset_id, content_hash) DO NOTHING
                    """, [ds])
                try c.execute("""
                    INSERT INTO responses (prompt_id, text, content_hash, origin, model_digest, generation_params)
                    SELECT p.id, x.text, x.h, 'model', x.digest, x.params FROM (
                        SELECT DISTINCT ON (ph, h) k, j, ph, text, h, digest, params FROM (
                            SELECT k, 0 AS j, ph, a AS text, ah AS h, a_digest AS digest, a_params AS params FROM enqueue_hashed
                            UNION ALL SELECT k, 1, ph, b, bh, b_digest, b_params FROM enqueue_hashed) u
                        ORDER BY ph, h, k, j) x
                    JOIN prompts p ON p.dataset_id = $1 AND p.content_hash = x.ph
                    ORDER BY x.k, x.j ON CONFLICT (prompt_id, content_hash) DO NOTHING
                    """, [ds])
                return Int(try c.execute("""
                    INSERT INTO comparisons (dataset_id, prompt_id, response_a, response_b, content_hash)
                    SELECT $1, p.id, ra.id, rb.id, x.ch FROM (
                        SELECT DISTINCT ON (ch) k, ph, ah, bh, ch FROM enqueue_hashed ORDER BY ch, k) x
                    JOIN prompts p ON p.dataset_id = $1 AND p.content_hash = x.ph
                    JOIN responses ra ON ra.prompt_id = p.id AND ra.content_hash = x.ah
                    JOIN responses rb ON rb.prompt_id = p.id AND rb.content_hash = x.bh
                    ORDER BY x.k ON CONFLICT (dataset_id, content_hash) DO NOTHING
                    """, [ds]).commandTuples)
            }
        }
    }
}
