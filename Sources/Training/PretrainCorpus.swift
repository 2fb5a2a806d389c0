// The documents of a pretraining corpus (Gutenberg manifest or plain text files) and their token files.
import Foundation

/// A corpus as a list of documents, read lazily: the books of a Gutenberg `manifest.tsv`, or plain
/// text files split into documents at runs of three blank lines (the separator of the joined
/// `corpus.txt`).
public struct PretrainCorpus: Sendable {
    /// Where a document's text comes from.
    enum Source: Sendable {
        case book(GutenbergBook, directory: URL)
        case piece(file: URL, index: Int)
        case slice(Range<Int>)
    }

    /// Document ids in file order (Gutenberg ids, or `NAME#K` for the K-th piece of file NAME).
    public let documentIDs: [String]
    private let sources: [String: Source]
    private let pieces: [URL: [String]]
    private var joined: Data = Data()
    /// Whether documents are whole books of a manifest (otherwise pieces of text files).
    public let isManifest: Bool
    /// A description of the inputs for cache keys and messages (paths and byte sizes).
    public let signature: String

    /// The books listed in a Gutenberg `manifest.tsv` (texts under its directory).
    /// - Throws: `TrainingError.io` / `.invalidManifest` (see `GutenbergBook.readManifest`);
    ///   `TrainingError.emptyCorpus` when it lists no book.
    public static func manifest(_ url: URL) throws -> PretrainCorpus {
        let books = try GutenbergBook.readManifest(at: url)
        guard !books.isEmpty else { throw TrainingError.emptyCorpus }
        let dir = url.deletingLastPathComponent()
        var sources: [String: Source] = [:]
        var sig = ["manifest \(url.path)"]
        for b in books {
            sources[b.id] = .book(b, directory: dir)
            let size = (try? FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent(b.file).path)[.size] as? Int) ?? -1
            sig.append("\(b.id) \(b.file) \(size)")
        }
        return PretrainCorpus(documentIDs: books.map(\.id), sources: sources, pieces: [:], isManifest: true,
                              signature: sig.joined(separator: "\n"))
    }

    /// The books of a Gutenberg `manifest.tsv` cut out of the joined `corpus.txt` it describes (books
    /// in manifest order, each `bytes_utf8` long, separated by `\n\n\n`), for a copy without `books/`.
    /// - Throws: `TrainingError.invalidManifest` when the manifest has no `bytes_utf8` column or the
    ///   sizes do not tile the corpus (naming the book); `TrainingError.io` when a file cannot be read.
    public static func manifest(_ url: URL, corpus: URL) throws -> PretrainCorpus {
        let books = try GutenbergBook.readManifest(at: url)
        guard !books.isEmpty else { throw TrainingError.emptyCorpus }
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw TrainingError.io(operation: "read", path: url.path, reason: error.localizedDescription)
        }
        let lines = text.split(separator: "\n").map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
        let cols = lines[0].components(separatedBy: "\t")
        guard let bi = cols.firstIndex(of: "bytes_utf8") else {
            throw TrainingError.invalidManifest(path: url.path, line: 1, reason: "no bytes_utf8 column: cannot cut books out of \(corpus.lastPathComponent)")
        }
        let data: Data
        do { data = try Data(contentsOf: corpus) } catch {
            throw TrainingError.io(operation: "read corpus", path: corpus.path,
                                   reason: FileManager.default.fileExists(atPath: corpus.path) ? error.localizedDescription : "no such file")
        }
        var sources: [String: Source] = [:], pos = 0
        let rows = lines.dropFirst().filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        for (k, (book, row)) in zip(books, rows).enumerated() {
            let f = row.components(separatedBy: "\t")
            guard bi < f.count, let n = Int(f[bi]), n >= 0, pos + n <= data.count else {
                throw TrainingError.invalidManifest(path: url.path, line: k + 2, reason: "bytes_utf8 of book \(book.id) is missing or runs past the end of \(corpus.path)")
            }
            sources[book.id] = .slice(pos..<(pos + n))
            pos += n
            let sep = data[pos..<min(data.count, pos + 3)]
            guard pos == data.count || sep.elementsEqual("\n\n\n".utf8) else {
                throw TrainingError.invalidManifest(path: url.path, line: k + 2, reason: "book \(book.id) does not end at a 3-blank-line separator of \(corpus.path); the manifest and the corpus do not match")
            }
            pos += 3
        }
        var c = PretrainCorpus(documentIDs: books.map(\.id), sources: sources, pieces: [:], isManifest: true,
                               signature: "manifest \(url.path)\ncorpus \(corpus.path) \(data.count)")
        c.joined = data
        return c
    }

    /// Text files, each split into documents at `\n\n\n\n` (three blank lines); empty pieces dropped.
    /// - Throws: `TrainingError.io` when a file is missing or not UTF-8; `TrainingError.emptyCorpus`
    ///   when no file holds any non-blank text.
    public static func files(_ urls: [URL]) throws -> PretrainCorpus {
        var ids: [String] = [], sources: [String: Source] = [:], pieces: [URL: [String]] = [:]
        var sig: [String] = []
        for url in urls {
            let text: String
            do { text = try String(contentsOf: url, encoding: .utf8) } catch {
                throw TrainingError.io(operation: "read corpus", path: url.path,
                                       reason: FileManager.default.fileExists(atPath: url.path) ? "not UTF-8 text (\(error.localizedDescription))" : "no such file")
            }
            let parts = text.components(separatedBy: "\n\n\n\n").filter { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
            pieces[url] = parts
            for k in parts.indices {
                let id = "\(url.lastPathComponent)#\(k)"
                ids.append(id)
                sources[id] = .piece(file: url, index: k)
            }
            sig.append("file \(url.path) \(text.utf8.count)")
        }
        guard !ids.isEmpty else { throw TrainingError.emptyCorpus }
        return PretrainCorpus(documentIDs: ids, sources: sources, pieces: pieces, isManifest: false, signature: sig.joined(separator: "\n"))
    }

    /// The text of document `id`.
    /// - Throws: `TrainingError.io` when a book file cannot be read; `.invalidSplit` for an unknown id.
    public func text(of id: String) throws -> String {
        switch sources[id] {
        case let .book(b, dir)?: return try b.text(relativeTo: dir)
        case let .piece(file, k)?: return pieces[file]![k]
        case let .slice(r)?:
            guard let t = String(data: joined[r], encoding: .utf8) else {
                throw TrainingError.io(operation: "decode book \(id)", path: "corpus", reason: "not UTF-8")
            }
            return t
        case nil: throw TrainingError.invalidSplit("unknown document id \(id)")
        }
    }

    /// The default hold-out: for a manifest, `fraction` of the books chosen by a seeded shuffle; for
    /// text files, the last `max(1, round(fraction * n))` pieces (a contiguous range, so validation text
    /// is not interleaved with training text).
    /// - Throws: `TrainingError.invalidSplit` for a fraction outside (0, 1) or fewer than 2 documents.
    public func defaultHoldout(fraction: Double, seed: UInt64) throws -> HoldoutSelection {
        if isManifest { return .fraction(fraction, seed: seed) }
        guard fraction > 0, fraction < 1 else { throw TrainingError.invalidSplit("validation fraction must be in (0, 1), got \(fraction)") }
        guard documentIDs.count >= 2 else {
            throw TrainingError.invalidSplit("the corpus has one document; give a manifest or more text to hold some out")
        }
        let n = min(documentIDs.count - 1, max(1, Int((fraction * Double(documentIDs.count)).rounded())))
        return .ids(Array(documentIDs.suffix(n)))
    }

    /// Tokenizes the corpus into `directory/train.{bin,json}` and `directory/validation.{bin,json}`, or
    /// reuses them when `directory/source.txt` shows they were built from the same inputs, tokenizer
    /// and hold-out.
    /// - Parameters:
    ///   - directory: where the token files go (created if needed).
    ///   - holdout: validation documents.
    ///   - vocabSize: the tokenizer's vocabulary size.
    ///   - tokenizerFingerprint: identifies the tokenizer.
    ///   - separatorToken: appended after each document (the EOS id), or nil.
    ///   - tokenize: encodes one document (e.g. `[BOS] + encode(text)`; the separator follows it).
    /// - Returns: the two token files.
    /// - Throws: `TrainingError.emptyCorpus`, `.invalidSplit`, `.io`, `.tokenOutOfRange`.
    public func tokenFiles(in directory: URL, holdout: HoldoutSelection, vocabSize: Int, tokenizerFingerprint: String,
                           separatorToken: Int32?, tokenize: (String) throws -> [Int32]) throws -> (train: TokenFileReader, validation: TokenFileReader) {
        let key = "\(signature)\nholdout \(holdout)\nvocab \(vocabSize)\ntokenizer \(tokenizerFingerprint)\nseparator \(separatorToken.map(String.init) ?? "none")\n"
        let keyURL = directory.appendingPathComponent("source.txt")
        if (try? String(contentsOf: keyURL, encoding: .utf8)) == key,
           let t = try? TokenFileReader(base: directory.appendingPathComponent("train")),
           let v = try? TokenFileReader(base: directory.appendingPathComponent("validation")) {
            return (t, v)
        }
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw TrainingError.io(operation: "create directory", path: directory.path, reason: error.localizedDescription)
        }
        try? FileManager.default.removeItem(at: keyURL)
        let builder = TokenDatasetBuilder(vocabSize: vocabSize, tokenizerFingerprint: tokenizerFingerprint, separatorToken: separatorToken)
        let split = try builder.build(documentIDs: documentIDs, holdout: holdout, into: directory) { try tokenize(try text(of: $0)) }
        try writeFileAtomically(Data(key.utf8), to: keyURL)
        return (try TokenFileReader(base: split.trainBase), try TokenFileReader(base: split.validationBase))
    }
}
