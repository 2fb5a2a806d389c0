import Crypto
import Foundation
import GRDB
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Retrieval results

/// One chunk returned by a search, best first.
public struct RetrievedChunk: Codable, Equatable, Sendable {
    /// Row id of the chunk in the index (stable for a given index file).
    public var chunkID: Int64
    /// Id of the document the chunk comes from.
    public var documentID: String
    /// Title of that document.
    public var title: String
    /// Position of the chunk in its document, from 0.
    public var chunkIndex: Int
    /// The chunk text.
    public var text: String
    /// BM25 relevance, higher is better (the negation of FTS5's `bm25()`, which is lower for better matches).
    public var score: Double

    enum CodingKeys: String, CodingKey {
        case chunkID = "chunk_id"
        case documentID = "doc_id"
        case title
        case chunkIndex = "chunk_index"
        case text
        case score
    }

    /// A retrieved chunk with the given fields.
    public init(chunkID: Int64, documentID: String, title: String, chunkIndex: Int, text: String, score: Double) {
        self.chunkID = chunkID
        self.documentID = documentID
        self.title = title
        self.chunkIndex = chunkIndex
        self.text = text
        self.score = score
    }

    /// A readable reference, `"<doc id>#<chunk index>"`, e.g. `"france/government#1"`.
    public var reference: String { "\(documentID)#\(chunkIndex)" }
}

/// Anything that returns the top-k chunks for a question (the index, or a stub in tests of callers).
public protocol Retriever: Sendable {
    /// The `topK` best chunks for `question`, best first (fewer when fewer match, none for a question
    /// without any word).
    /// - Throws: a database error when the index cannot be read.
    func search(_ question: String, topK: Int) throws -> [RetrievedChunk]
}

// MARK: - Manifest

/// The single manifest row of an index: how it was built.
public struct KnowledgeIndexManifest: Codable, Equatable, Sendable {
    /// Format of the index file; readers refuse other versions.
    public var formatVersion: Int
    /// `ChunkTokenizer.fingerprint` of the tokenizer that counted the chunk tokens.
    public var tokenizerFingerprint: String
    /// Chunk budget and overlap, in tokens of that tokenizer.
    public var chunking: ChunkingOptions
    /// `sha256:<hex>` of the knowledge-base file bytes (or of the documents' canonical JSON when built in memory).
    public var sourceDigest: String
    /// Documents stored.
    public var documentCount: Int
    /// Chunks stored.
    public var chunkCount: Int
    /// The FTS5 tokenizer declaration of the full-text table.
    public var ftsTokenizer: String

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version"
        case tokenizerFingerprint = "tokenizer_fingerprint"
        case chunking
        case sourceDigest = "source_digest"
        case documentCount = "document_count"
        case chunkCount = "chunk_count"
        case ftsTokenizer = "fts_tokenizer"
    }
}

// MARK: - Index

/// A knowledge base chunked and indexed for BM25 search, stored in one SQLite file.
///
/// Tables: `manifest` (one row, see `KnowledgeIndexManifest`), `documents` (id, title, text, metadata
/// JSON), `chunks` (id, doc_id, chunk_index, title, body, token_count) and `chunks_fts`, an FTS5 table
/// over (title, body) with `chunks` as external content, tokenizer `porter unicode61 remove_diacritics 2`.
/// Search ranks with FTS5's built-in `bm25()` (k1 = 1.2, b = 0.75; Robertson & Zaragoza 2009), the
/// title column weighted by `titleWeight`. Source: sqlite.org `fts5.html` sections 4.4.3 (external
/// content tables) and 5.1.1 (`bm25`).
public final class KnowledgeIndex: Retriever, @unchecked Sendable {
    /// The current index format.
    public static let formatVersion = 1
    /// The FTS5 tokenizer used for the full-text table.
    public static let ftsTokenizer = "porter unicode61 remove_diacritics 2"

    /// Name of the index file inside a knowledge directory (the stage artifact's `knowledge/`).
    public static let fileName = "index.sqlite"

    /// The index file for a path that is either a knowledge directory (then `<dir>/index.sqlite`) or the file itself.
    public static func indexURL(_ path: String) -> URL {
        var isDirectory: ObjCBool = false
        let url = URL(fileURLWithPath: path)
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            return url.appendingPathComponent(fileName)
        }
        return url
    }

    /// The index file.
    public let url: URL
    /// How it was built.
    public let manifest: KnowledgeIndexManifest
    /// Default BM25 weight of the title column: 10 (body 1). With every chunk of a document carrying its
    /// title, a heavy title weight makes the entity named in the question (country, element) select the
    /// document and the body words (capital, currency...) select the chunk: on factbook1992 qa_shared,
    /// 64-word chunks, recall@3 goes from 0.860 (weight 1) to 0.997 (weight 10).
    public static let defaultTitleWeight = 10.0

    /// BM25 weight of the title column relative to the body (1 = same weight).
    public let titleWeight: Double
    private let database: DatabaseQueue

    // MARK: Opening

    /// Opens an existing index read-only.
    /// - Parameters:
    ///   - url: the SQLite file written by `build`.
    ///   - titleWeight: BM25 weight of the title column (body = 1), default `defaultTitleWeight`.
    /// - Throws: `RetrievalError.invalidIndex` when the file is missing, not an index, or of another format version.
    public init(contentsOf url: URL, titleWeight: Double = KnowledgeIndex.defaultTitleWeight) throws {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw RetrievalError.invalidIndex(path: url.path, reason: "no such file")
        }
        var configuration = Configuration()
        configuration.readonly = true
        do {
            let database = try DatabaseQueue(path: url.path, configuration: configuration)
            let manifest = try database.read { db in try Self.readManifest(db) }
            guard let manifest else {
                throw RetrievalError.invalidIndex(path: url.path, reason: "no manifest row")
            }
            guard manifest.formatVersion == Self.formatVersion else {
                throw RetrievalError.invalidIndex(
                    path: url.path, reason: "format version \(manifest.formatVersion), this build reads \(Self.formatVersion)")
            }
            self.database = database
            self.manifest = manifest
        } catch let error as RetrievalError {
            throw error
        } catch {
            throw RetrievalError.invalidIndex(path: url.path, reason: "\(error)")
        }
        self.url = url
        self.titleWeight = titleWeight
    }

    /// Checks that the index was chunked with the tokenizer of the model that will read the chunks.
    /// - Parameter fingerprint: the model tokenizer's `ChunkTokenizer.fingerprint`.
    /// - Throws: `RetrievalError.tokenizerMismatch` when they differ.
    public func verifyTokenizer(fingerprint: String) throws {
        guard manifest.tokenizerFingerprint == fingerprint else {
            throw RetrievalError.tokenizerMismatch(
                path: url.path, indexFingerprint: manifest.tokenizerFingerprint, expectedFingerprint: fingerprint)
        }
    }

    // MARK: Building

    /// Reads a JSONL knowledge base, chunks it and writes the index to `url` atomically.
    ///
    /// Side effects: writes `<url>.tmp-<uuid>` next to `url`, then renames it over `url`; on failure the
    /// temporary file is removed and an existing `url` is left untouched.
    /// - Parameters:
    ///   - knowledgeBase: JSONL file of documents (`id`, `title`, `text`, other keys kept as metadata).
    ///   - chunker: chunk budget, overlap and tokenizer.
    ///   - url: where the index file goes (its directory must exist).
    ///   - logger: receives one info line when done.
    ///   - progress: called with (documents done, documents total) as documents are chunked.
    /// - Returns: the index, opened read-only.
    /// - Throws: the errors of `KnowledgeBase.load(contentsOf:)`, `RetrievalError.unreadable` when the
    ///   file cannot be written, database errors.
    @discardableResult
    public static func build(
        knowledgeBase: URL, chunker: Chunker, at url: URL, logger: Logger,
        progress: ((Int, Int) -> Void)? = nil
    ) throws -> KnowledgeIndex {
        let bytes: Data
        do {
            bytes = try Data(contentsOf: knowledgeBase)
        } catch {
            throw RetrievalError.unreadable(file: knowledgeBase.path, reason: error.localizedDescription)
        }
        let documents = try KnowledgeBase.parse(bytes, file: knowledgeBase.path)
        return try build(
            documents: documents, sourceDigest: sha256Digest(bytes), chunker: chunker, at: url, logger: logger,
            progress: progress)
    }

    /// Chunks documents and writes the index to `url` atomically (see `build(knowledgeBase:...)`).
    /// - Parameters:
    ///   - documents: the knowledge base (ids must be unique).
    ///   - sourceDigest: digest recorded in the manifest; nil: `sha256` of the documents' canonical JSON.
    @discardableResult
    public static func build(
        documents: [KnowledgeDocument], sourceDigest: String? = nil, chunker: Chunker, at url: URL,
        logger: Logger, progress: ((Int, Int) -> Void)? = nil
    ) throws -> KnowledgeIndex {
        var seen = Set<String>()
        for document in documents where !seen.insert(document.id).inserted {
            throw RetrievalError.duplicateID(file: "<documents>", line: 0, id: document.id, firstLine: 0)
        }
        let digest = try sourceDigest ?? canonicalDigest(documents)
        let started = Date()
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: temporary) }

        var chunkCount = 0
        do {
            let database = try DatabaseQueue(path: temporary.path)
            try database.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA journal_mode = DELETE")
                try db.inTransaction {
                    try createSchema(db)
                    let insertDocument = try db.makeStatement(
                        sql: "INSERT INTO documents (position, id, title, text, metadata) VALUES (?, ?, ?, ?, ?)")
                    let insertChunk = try db.makeStatement(
                        sql: "INSERT INTO chunks (id, doc_id, chunk_index, title, body, token_count) VALUES (?, ?, ?, ?, ?, ?)")
                    let insertText = try db.makeStatement(
                        sql: "INSERT INTO chunks_fts (rowid, title, body) VALUES (?, ?, ?)")
                    for (position, document) in documents.enumerated() {
                        try insertDocument.execute(arguments: [
                            position, document.id, document.title, document.text, try metadataJSON(document.metadata),
                        ])
                        for chunk in chunker.chunks(of: document) {
                            chunkCount += 1
                            try insertChunk.execute(arguments: [
                                chunkCount, chunk.documentID, chunk.index, chunk.title, chunk.text, chunk.tokenCount,
                            ])
                            try insertText.execute(arguments: [chunkCount, chunk.title, chunk.text])
                        }
                        progress?(position + 1, documents.count)
                    }
                    try db.execute(sql: "INSERT INTO chunks_fts (chunks_fts) VALUES ('optimize')")
                    try db.execute(
                        sql: """
                            INSERT INTO manifest (format_version, tokenizer_fingerprint, chunk_size, chunk_overlap,
                                                  source_digest, document_count, chunk_count, fts_tokenizer)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                            """,
                        arguments: [
                            formatVersion, chunker.tokenizer.fingerprint, chunker.options.chunkSize,
                            chunker.options.overlap, digest, documents.count, chunkCount, ftsTokenizer,
                        ])
                    return .commit
                }
                try db.execute(sql: "VACUUM")
            }
            try database.close()
        } catch let error as RetrievalError {
            throw error
        } catch {
            throw RetrievalError.invalidIndex(path: temporary.path, reason: "cannot write the index: \(error)")
        }
        guard rename(temporary.path, url.path) == 0 else {
            throw RetrievalError.unreadable(
                file: url.path, reason: "cannot move the new index into place: \(String(cString: strerror(errno)))")
        }
        let seconds = Date().timeIntervalSince(started)
        logger.info(
            "knowledge index built",
            metadata: [
                "path": "\(url.path)", "documents": "\(documents.count)", "chunks": "\(chunkCount)",
                "seconds": "\(String(format: "%.3f", seconds))",
            ])
        return try KnowledgeIndex(contentsOf: url)
    }

    // MARK: Searching

    /// The `topK` chunks that best match `question` under BM25, best first.
    ///
    /// The question goes through `FTS5Query.orQuery`, so any text is safe (quotes, `AND`/`OR`/`NOT`/`NEAR`,
    /// `*`, `^`, `-`, `:`, parentheses); a question without a letter or digit returns no chunk.
    /// Ties are broken by chunk id, so results are deterministic.
    /// - Parameters:
    ///   - question: free text.
    ///   - topK: chunks wanted (>= 1).
    /// - Throws: `RetrievalError.invalidParameter` when `topK < 1`; database errors.
    public func search(_ question: String, topK: Int) throws -> [RetrievedChunk] {
        guard topK >= 1 else {
            throw RetrievalError.invalidParameter(name: "top_k", value: "\(topK)", expected: "at least 1")
        }
        guard let query = FTS5Query.orQuery(from: question) else { return [] }
        // Rank inside the FTS5 table first and join only the top k (half the latency of joining every match).
        return try database.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT c.id, c.doc_id, c.title, c.chunk_index, c.body, r.rank
                    FROM (SELECT rowid AS id, bm25(chunks_fts, ?, 1.0) AS rank
                          FROM chunks_fts WHERE chunks_fts MATCH ?
                          ORDER BY rank, rowid LIMIT ?) AS r
                    JOIN chunks c ON c.id = r.id
                    ORDER BY r.rank, r.id
                    """,
                arguments: [titleWeight, query, topK])
            return rows.map { row in
                RetrievedChunk(
                    chunkID: row[0], documentID: row[1], title: row[2], chunkIndex: row[3], text: row[4],
                    score: -(row[5] as Double))
            }
        }
    }

    /// All chunks of the index in id order (for building distractors or exporting).
    /// - Throws: database errors.
    public func allChunks() throws -> [RetrievedChunk] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT id, doc_id, title, chunk_index, body FROM chunks ORDER BY id").map { row in
                RetrievedChunk(chunkID: row[0], documentID: row[1], title: row[2], chunkIndex: row[3], text: row[4], score: 0)
            }
        }
    }

    /// The stored document with this id, or nil.
    /// - Throws: database errors.
    public func document(id: String) throws -> KnowledgeDocument? {
        try database.read { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT id, title, text, metadata FROM documents WHERE id = ?", arguments: [id])
            else { return nil }
            let metadataText: String = row[3]
            let metadata = (try? JSONDecoder().decode([String: String].self, from: Data(metadataText.utf8))) ?? [:]
            return KnowledgeDocument(id: row[0], title: row[1], text: row[2], metadata: metadata)
        }
    }

    // MARK: Helpers

    static func createSchema(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE manifest (
                    format_version INTEGER NOT NULL,
                    tokenizer_fingerprint TEXT NOT NULL,
                    chunk_size INTEGER NOT NULL,
                    chunk_overlap INTEGER NOT NULL,
                    source_digest TEXT NOT NULL,
                    document_count INTEGER NOT NULL,
                    chunk_count INTEGER NOT NULL,
                    fts_tokenizer TEXT NOT NULL
                );
                CREATE TABLE documents (
                    position INTEGER PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE,
                    title TEXT NOT NULL,
                    text TEXT NOT NULL,
                    metadata TEXT NOT NULL
                );
                CREATE TABLE chunks (
                    id INTEGER PRIMARY KEY,
                    doc_id TEXT NOT NULL REFERENCES documents(id),
                    chunk_index INTEGER NOT NULL,
                    title TEXT NOT NULL,
                    body TEXT NOT NULL,
                    token_count INTEGER NOT NULL,
                    UNIQUE (doc_id, chunk_index)
                );
                CREATE VIRTUAL TABLE chunks_fts USING fts5(
                    title, body, content = 'chunks', content_rowid = 'id', tokenize = '\(ftsTokenizer)'
                );
                """)
    }

    static func readManifest(_ db: Database) throws -> KnowledgeIndexManifest? {
        guard try db.tableExists("manifest") else { return nil }
        guard let row = try Row.fetchOne(
            db,
            sql: """
                SELECT format_version, tokenizer_fingerprint, chunk_size, chunk_overlap, source_digest,
                       document_count, chunk_count, fts_tokenizer
                FROM manifest LIMIT 1
                """)
        else { return nil }
        return KnowledgeIndexManifest(
            formatVersion: row[0], tokenizerFingerprint: row[1],
            chunking: ChunkingOptions(chunkSize: row[2], overlap: row[3]), sourceDigest: row[4],
            documentCount: row[5], chunkCount: row[6], ftsTokenizer: row[7])
    }

    static func metadataJSON(_ metadata: [String: String]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(metadata), as: UTF8.self)
    }

    /// `sha256:<hex>` of bytes.
    public static func sha256Digest(_ data: Data) -> String {
        "sha256:" + SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    static func canonicalDigest(_ documents: [KnowledgeDocument]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return sha256Digest(try encoder.encode(documents))
    }
}
