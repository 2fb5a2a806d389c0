import Foundation

// MARK: - Chunking options

/// How documents are cut into chunks: a budget in tokens and an overlap in tokens between neighbours.
public struct ChunkingOptions: Codable, Equatable, Sendable {
    /// Maximum tokens per chunk (a single word longer than this becomes a chunk of its own).
    public var chunkSize: Int
    /// Tokens of the end of a chunk repeated at the start of the next one (`0 <= overlap < chunkSize`).
    public var overlap: Int
    /// Start a new chunk (without overlap) at every line that begins with no indentation: in documents
    /// laid out as `Field:` lines with indented values (the Factbook) or `Field: value` lines, each field
    /// then has chunks of its own, so a retrieved passage holds one field and its whole value.
    public var atFields: Bool

    enum CodingKeys: String, CodingKey {
        case chunkSize = "chunk_size"
        case overlap = "chunk_overlap"
        case atFields = "chunk_at_fields"
    }

    /// - Parameters:
    ///   - chunkSize: tokens per chunk (default 128: a passage of a few sentences, 3 of them fit a 512-token context).
    ///   - overlap: tokens shared by neighbouring chunks (default 32, a quarter of the chunk).
    ///   - atFields: also cut before every unindented line (see `atFields`).
    public init(chunkSize: Int = 128, overlap: Int = 32, atFields: Bool = false) {
        self.chunkSize = chunkSize
        self.overlap = overlap
        self.atFields = atFields
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        chunkSize = try container.decode(Int.self, forKey: .chunkSize)
        overlap = try container.decode(Int.self, forKey: .overlap)
        atFields = try container.decodeIfPresent(Bool.self, forKey: .atFields) ?? false
    }

    /// Checks the ranges.
    /// - Throws: `RetrievalError.invalidParameter` when `chunkSize < 1` or `overlap` is not in `0..<chunkSize`.
    public func validate() throws {
        guard chunkSize >= 1 else {
            throw RetrievalError.invalidParameter(name: "chunk_size", value: "\(chunkSize)", expected: "at least 1 token")
        }
        guard overlap >= 0, overlap < chunkSize else {
            throw RetrievalError.invalidParameter(
                name: "chunk_overlap", value: "\(overlap)", expected: "0 <= chunk_overlap < chunk_size (\(chunkSize))")
        }
    }
}

// MARK: - Chunks

/// A contiguous piece of one document, the unit that is indexed and retrieved.
public struct DocumentChunk: Codable, Equatable, Sendable {
    /// The id of the document it comes from.
    public var documentID: String
    /// The document's title.
    public var title: String
    /// Position of the chunk within its document, from 0.
    public var index: Int
    /// The chunk text: a substring of the document from the start of its first word to the end of its last.
    public var text: String
    /// Tokens in the chunk as counted by the chunking tokenizer.
    public var tokenCount: Int

    /// A chunk with the given fields.
    public init(documentID: String, title: String, index: Int, text: String, tokenCount: Int) {
        self.documentID = documentID
        self.title = title
        self.index = index
        self.text = text
        self.tokenCount = tokenCount
    }
}

// MARK: - Chunker

/// Cuts documents into chunks of at most `chunkSize` tokens, with `overlap` tokens shared between
/// neighbours, cutting only at whitespace.
///
/// The text is seen as pieces "leading whitespace + word"; a piece costs
/// `tokenizer.tokenize(piece).count` tokens (for a byte-level BPE with GPT-2 pre-tokenization this is
/// the count the whole text would get, since pre-tokens never cross such a boundary). A chunk takes
/// pieces greedily while they fit; the next chunk starts at the last pieces of the previous one whose
/// cost sums to at most `overlap` (always at least one piece further, so chunking ends).
///
/// Example (whitespace tokenizer, chunkSize 4, overlap 2): "a b c d e f g" gives
/// "a b c d", "c d e f", "e f g". With `atFields`, "Type:\n    republic\nCapital:\n    Algiers" gives
/// "Type:\n    republic", "Capital:\n    Algiers".
public struct Chunker: Sendable {
    /// Chunk budget and overlap, in tokens.
    public let options: ChunkingOptions
    /// Counts the tokens of each piece of text.
    public let tokenizer: any ChunkTokenizer

    /// A chunker with these options and tokenizer.
    /// - Throws: `RetrievalError.invalidParameter` when the options are out of range.
    public init(options: ChunkingOptions, tokenizer: any ChunkTokenizer) throws {
        try options.validate()
        self.options = options
        self.tokenizer = tokenizer
    }

    /// The chunks of one document, in order (none when the text is only whitespace).
    public func chunks(of document: KnowledgeDocument) -> [DocumentChunk] {
        let text = document.text
        let scalars = text.unicodeScalars
        // Pieces: (piece start incl. leading whitespace, word start, word end).
        var pieces: [(start: String.Index, wordStart: String.Index, end: String.Index)] = []
        var index = scalars.startIndex
        var pieceStart = index
        while index < scalars.endIndex {
            while index < scalars.endIndex, scalars[index].properties.isWhitespace { index = scalars.index(after: index) }
            guard index < scalars.endIndex else { break }
            let wordStart = index
            while index < scalars.endIndex, !scalars[index].properties.isWhitespace { index = scalars.index(after: index) }
            pieces.append((pieceStart, wordStart, index))
            pieceStart = index
        }
        guard !pieces.isEmpty else { return [] }
        let costs = pieces.map { max(1, tokenizer.tokenize(String(text[$0.start..<$0.end])).count) }
        // A piece starts a field when its leading whitespace ends with a newline (an unindented line).
        let startsField = pieces.map { piece in
            options.atFields && piece.start < piece.wordStart && text[text.index(before: piece.wordStart)] == "\n"
        }

        var chunks: [DocumentChunk] = []
        var start = 0
        while start < pieces.count {
            var end = start
            var tokens = 0
            while end < pieces.count, end == start || (tokens + costs[end] <= options.chunkSize && !startsField[end]) {
                tokens += costs[end]
                end += 1
            }
            let chunkText = String(text[pieces[start].wordStart..<pieces[end - 1].end])
            chunks.append(DocumentChunk(
                documentID: document.id, title: document.title, index: chunks.count, text: chunkText, tokenCount: tokens))
            if end == pieces.count { break }
            if startsField[end] {
                start = end
                continue
            }
            var next = end
            var shared = 0
            while next - 1 > start, shared + costs[next - 1] <= options.overlap {
                shared += costs[next - 1]
                next -= 1
            }
            start = next
        }
        return chunks
    }
}
