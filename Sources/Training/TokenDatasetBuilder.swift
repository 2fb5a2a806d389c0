// Builds the train and validation token files from documents, holding out whole documents.
import Foundation
import Tensors

// MARK: - Hold-out selection

/// Which whole documents go to the validation split.
public enum HoldoutSelection: Equatable, Sendable {
    /// Exactly these document ids (e.g. Gutenberg ids `["1342", "84"]`); unknown ids are an error.
    case ids([String])
    /// `max(1, round(fraction * n))` documents chosen by a seeded shuffle (`Xoshiro256(seed:)`,
    /// Fisher-Yates over the ids in the order given); at least one document stays in training.
    case fraction(Double, seed: UInt64)

    /// Returns the validation document ids for `ids` (in the order of `ids`).
    /// - Throws: `TrainingError.invalidSplit` when an id is unknown, the fraction is outside (0, 1),
    ///   or the selection would leave the training or the validation split empty.
    public func select(from ids: [String]) throws -> [String] {
        switch self {
        case let .ids(wanted):
            let known = Set(ids)
            let unknown = wanted.filter { !known.contains($0) }
            guard unknown.isEmpty else {
                throw TrainingError.invalidSplit("validation ids \(unknown) are not in the corpus (known: \(ids.prefix(20).joined(separator: ", ")))")
            }
            let set = Set(wanted)
            let chosen = ids.filter { set.contains($0) }
            guard !chosen.isEmpty else { throw TrainingError.invalidSplit("no validation document selected") }
            guard chosen.count < ids.count else {
                throw TrainingError.invalidSplit("every document is held out; keep at least one for training")
            }
            return chosen
        case let .fraction(f, seed):
            guard f > 0, f < 1 else {
                throw TrainingError.invalidSplit("validation fraction must be in (0, 1), got \(f)")
            }
            guard ids.count >= 2 else {
                throw TrainingError.invalidSplit("need at least 2 documents to hold one out, got \(ids.count)")
            }
            let n = min(ids.count - 1, max(1, Int((f * Double(ids.count)).rounded())))
            var order = Array(ids.indices)
            var rng = Xoshiro256(seed: seed)
            rng.shuffle(&order)
            let set = Set(order.prefix(n))
            return ids.indices.filter { set.contains($0) }.map { ids[$0] }
        }
    }
}

// MARK: - Builder

/// The two token files written by `TokenDatasetBuilder`.
public struct TokenDatasetSplit: Equatable, Sendable {
    /// Base path of the training file (`DIR/train`).
    public var trainBase: URL
    /// Base path of the validation file (`DIR/validation`).
    public var validationBase: URL
    /// Header of the training file.
    public var train: TokenFileHeader
    /// Header of the validation file.
    public var validation: TokenFileHeader
}

/// Tokenizes documents into `DIR/train.{bin,json}` and `DIR/validation.{bin,json}`, holding out
/// whole documents (e.g. whole books) so validation text is never seen in training.
public struct TokenDatasetBuilder: Sendable {
    /// Vocabulary size (ids); decides uint16 or uint32.
    public var vocabSize: Int
    /// Identifier of the tokenizer (stored in both headers).
    public var tokenizerFingerprint: String
    /// Id appended after each document (e.g. end-of-text), or nil.
    public var separatorToken: Int32?

    public init(vocabSize: Int, tokenizerFingerprint: String, separatorToken: Int32? = nil) {
        self.vocabSize = vocabSize
        self.tokenizerFingerprint = tokenizerFingerprint
        self.separatorToken = separatorToken
    }

    /// Writes the split, tokenizing one document at a time (the corpus is never held as ids).
    /// - Parameters:
    ///   - documentIDs: ids of all documents, in the order they are written.
    ///   - holdout: which documents go to validation.
    ///   - directory: output directory (created if needed).
    ///   - tokenize: returns the ids of one document given its id.
    /// - Returns: both headers and base paths.
    /// - Throws: `TrainingError.emptyCorpus` when there is no document or no token;
    ///   `TrainingError.invalidSplit` (see `HoldoutSelection.select`); `TrainingError.tokenOutOfRange`;
    ///   `TrainingError.io`; any error of `tokenize`. On error no final file of a failed split is published.
    public func build(documentIDs: [String], holdout: HoldoutSelection, into directory: URL,
                      tokenize: (String) throws -> [Int32]) throws -> TokenDatasetSplit {
        guard !documentIDs.isEmpty else { throw TrainingError.emptyCorpus }
        let dup = Dictionary(grouping: documentIDs, by: { $0 }).filter { $0.value.count > 1 }.keys
        guard dup.isEmpty else { throw TrainingError.invalidSplit("duplicate document ids: \(dup.sorted())") }
        let held = Set(try holdout.select(from: documentIDs))
        let trainBase = directory.appendingPathComponent("train")
        let validationBase = directory.appendingPathComponent("validation")
        let train = try TokenFileWriter(base: trainBase, vocabSize: vocabSize,
                                        tokenizerFingerprint: tokenizerFingerprint, separatorToken: separatorToken)
        let validation = try TokenFileWriter(base: validationBase, vocabSize: vocabSize,
                                             tokenizerFingerprint: tokenizerFingerprint, separatorToken: separatorToken)
        var nonEmpty = 0
        for id in documentIDs {
            let ids = try tokenize(id)
            if !ids.isEmpty { nonEmpty += 1 }
            try (held.contains(id) ? validation : train).append(ids, id: id)
        }
        guard nonEmpty > 0 else { throw TrainingError.emptyCorpus }
        let trainHeader = try train.finish()
        let validationHeader = try validation.finish()
        return TokenDatasetSplit(trainBase: trainBase, validationBase: validationBase,
                                 train: trainHeader, validation: validationHeader)
    }

    /// Writes the split from documents already tokenized.
    /// - Parameter documents: `(id, ids)` pairs in file order.
    /// - Throws: as `build(documentIDs:holdout:into:tokenize:)`.
    public func build(documents: [(id: String, tokens: [Int32])], holdout: HoldoutSelection,
                      into directory: URL) throws -> TokenDatasetSplit {
        var byID: [String: [Int32]] = [:]
        for d in documents { byID[d.id] = d.tokens }
        return try build(documentIDs: documents.map(\.id), holdout: holdout, into: directory) { byID[$0] ?? [] }
    }
}

// MARK: - Gutenberg manifest

/// One row of the Gutenberg corpus `manifest.tsv` (`pg_id`, `file`, `title`, `author`, ...).
public struct GutenbergBook: Equatable, Sendable {
    /// Project Gutenberg id, used as the document id (e.g. `"1342"`).
    public var id: String
    /// Path of the book's text relative to the manifest (e.g. `books/pg1342.txt`).
    public var file: String
    /// Title.
    public var title: String
    /// Author.
    public var author: String

    /// Parses `manifest.tsv` text: a header line naming at least `pg_id`, `file`, `title`, `author`
    /// (tab-separated, any order), then one book per line; blank lines are skipped.
    /// - Parameters:
    ///   - text: the file's contents.
    ///   - path: used in error messages.
    /// - Throws: `TrainingError.invalidManifest` naming `path:line` for a missing column or a short row.
    public static func parseManifest(_ text: String, path: String = "manifest.tsv") throws -> [GutenbergBook] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? $0.dropLast() : $0
        }
        guard let head = lines.first else { throw TrainingError.invalidManifest(path: path, line: 1, reason: "empty manifest") }
        let cols = head.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        func col(_ name: String) throws -> Int {
            guard let i = cols.firstIndex(of: name) else {
                throw TrainingError.invalidManifest(path: path, line: 1, reason: "missing column \"\(name)\" (columns: \(cols.joined(separator: ", ")))")
            }
            return i
        }
        let (ci, cf, ct, ca) = (try col("pg_id"), try col("file"), try col("title"), try col("author"))
        var books: [GutenbergBook] = []
        for (n, line) in lines.enumerated().dropFirst() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= cols.count else {
                throw TrainingError.invalidManifest(path: path, line: n + 1, reason: "expected \(cols.count) tab-separated fields, got \(f.count)")
            }
            books.append(GutenbergBook(id: f[ci], file: f[cf], title: f[ct], author: f[ca]))
        }
        return books
    }
}

extension GutenbergBook {
    /// Reads and parses `manifest.tsv`.
    /// - Parameter url: the manifest's path; books' `file` paths are relative to its directory.
    /// - Throws: `TrainingError.io` when it cannot be read; `TrainingError.invalidManifest` (see `parseManifest`).
    public static func readManifest(at url: URL) throws -> [GutenbergBook] {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw TrainingError.io(operation: "read", path: url.path, reason: error.localizedDescription)
        }
        return try parseManifest(text, path: url.path)
    }

    /// The book's text, read from `manifestDirectory/file`.
    /// - Throws: `TrainingError.io` when the file is missing or not UTF-8.
    public func text(relativeTo manifestDirectory: URL) throws -> String {
        let url = manifestDirectory.appendingPathComponent(file)
        do { return try String(contentsOf: url, encoding: .utf8) } catch {
            throw TrainingError.io(operation: "read book \(id)", path: url.path, reason: error.localizedDescription)
        }
    }
}
