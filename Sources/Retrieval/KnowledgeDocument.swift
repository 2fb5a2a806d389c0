import Foundation

// MARK: - Knowledge-base documents

/// One document of a knowledge base, as read from a JSONL line.
///
/// The shared knowledge bases (`factbook1992-rag/kb.jsonl`, `elements-rag/kb.jsonl`,
/// `xquad-en/passages.jsonl`) all have `id`, `title` and `text`; any other key is kept in `metadata`.
public struct KnowledgeDocument: Codable, Equatable, Sendable {
    /// Unique id within the knowledge base, e.g. `"france/government"`.
    public var id: String
    /// Human-readable title; the id when the line has no `title`.
    public var title: String
    /// The document text, layout (newlines) preserved.
    public var text: String
    /// Every other key of the line: strings as they are, other JSON values as compact JSON text.
    public var metadata: [String: String]

    /// A document with the given fields (no validation; `KnowledgeBase` validates what it reads).
    public init(id: String, title: String, text: String, metadata: [String: String] = [:]) {
        self.id = id
        self.title = title
        self.text = text
        self.metadata = metadata
    }
}

/// Reading knowledge bases from JSON Lines.
public enum KnowledgeBase {
    /// Reads a knowledge base from a JSONL file (one document object per line; blank lines skipped).
    /// - Parameter url: the file, e.g. `pipelines/data/factbook1992-rag/kb.jsonl`.
    /// - Returns: the documents in file order.
    /// - Throws: `RetrievalError.unreadable`, `.malformedJSON` (line), `.missingField` (line: no string `id`,
    ///   or no non-blank `text`), `.duplicateID` (both lines), `.emptyFile`.
    public static func load(contentsOf url: URL) throws -> [KnowledgeDocument] {
        try documents(from: JSONLines.read(url), file: url.path)
    }

    /// Parses knowledge-base JSONL bytes; see `load(contentsOf:)`.
    /// - Parameters:
    ///   - data: UTF-8 JSONL.
    ///   - file: name used in error messages.
    public static func parse(_ data: Data, file: String = "<memory>") throws -> [KnowledgeDocument] {
        try documents(from: JSONLines.parse(data, file: file), file: file)
    }

    static func documents(from records: [JSONLRecord], file: String) throws -> [KnowledgeDocument] {
        guard !records.isEmpty else { throw RetrievalError.emptyFile(file: file) }
        var firstLine: [String: Int] = [:]
        var documents: [KnowledgeDocument] = []
        documents.reserveCapacity(records.count)
        for record in records {
            let object = record.object
            guard let id = object["id"] as? String, !id.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw RetrievalError.missingField(file: file, line: record.line, field: "id", expected: "a non-empty string")
            }
            guard let text = object["text"] as? String, !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw RetrievalError.missingField(file: file, line: record.line, field: "text", expected: "a non-empty string")
            }
            if let first = firstLine[id] {
                throw RetrievalError.duplicateID(file: file, line: record.line, id: id, firstLine: first)
            }
            firstLine[id] = record.line
            var title = id
            if let value = object["title"] {
                guard let string = value as? String else {
                    throw RetrievalError.missingField(file: file, line: record.line, field: "title", expected: "a string when present")
                }
                if !string.isEmpty { title = string }
            }
            var metadata: [String: String] = [:]
            for (key, value) in object where key != "id" && key != "title" && key != "text" {
                metadata[key] = JSONLines.metadataText(value)
            }
            documents.append(KnowledgeDocument(id: id, title: title, text: text, metadata: metadata))
        }
        return documents
    }
}
