import Foundation
import Tensors
import XCTest
@testable import Retrieval

final class ChunkerTests: XCTestCase {
    private func chunks(_ text: String, size: Int, overlap: Int, tokenizer: any ChunkTokenizer = WhitespaceTokenizer()) throws -> [DocumentChunk] {
        let chunker = try Chunker(options: ChunkingOptions(chunkSize: size, overlap: overlap), tokenizer: tokenizer)
        return chunker.chunks(of: KnowledgeDocument(id: "doc", title: "Doc", text: text))
    }

    func testWorkedExampleFromTheDocumentation() throws {
        let result = try chunks("a b c d e f g", size: 4, overlap: 2)
        XCTAssertEqual(result.map(\.text), ["a b c d", "c d e f", "e f g"])
        XCTAssertEqual(result.map(\.index), [0, 1, 2])
        XCTAssertEqual(result.map(\.tokenCount), [4, 4, 3])
        XCTAssertTrue(result.allSatisfy { $0.documentID == "doc" && $0.title == "Doc" })
    }

    func testChunksAreSubstringsThatKeepTheLayoutInside() throws {
        let text = "  Capital:\n    Paris\nAdministrative divisions:\n    22 regions  \n"
        let result = try chunks(text, size: 3, overlap: 0)
        XCTAssertEqual(result.map(\.text), ["Capital:\n    Paris\nAdministrative", "divisions:\n    22 regions"])
        for chunk in result { XCTAssertTrue(text.contains(chunk.text)) }
    }

    func testAtFieldsStartsAChunkAtEveryUnindentedLine() throws {
        let text = "Type:\n    republic\nCapital:\n    Algiers\nAdministrative divisions:\n    48 provinces (wilayast,\n    singular - wilaya); Adrar, Ain Defla\nSymbol: He"
        let chunker = try Chunker(options: ChunkingOptions(chunkSize: 4, overlap: 1, atFields: true), tokenizer: WhitespaceTokenizer())
        let result = chunker.chunks(of: KnowledgeDocument(id: "doc", title: "Doc", text: text))
        // Fields never share a chunk and the first chunk of a field starts at its label; a field longer than
        // the budget is cut by tokens with the overlap (one word here) inside the field only.
        XCTAssertEqual(result.map(\.text), [
            "Type:\n    republic", "Capital:\n    Algiers", "Administrative divisions:\n    48 provinces",
            "provinces (wilayast,\n    singular -", "- wilaya); Adrar, Ain", "Ain Defla", "Symbol: He",
        ])
        XCTAssertEqual(result.map(\.tokenCount), [2, 2, 4, 4, 4, 2, 2])
        // Without the option the same text is cut by tokens only.
        let plain = try chunks(text, size: 4, overlap: 1)
        XCTAssertEqual(plain.first?.text, "Type:\n    republic\nCapital:\n    Algiers")
        // Old encoded options (no chunk_at_fields key) decode with the option off.
        let decoded = try JSONDecoder().decode(ChunkingOptions.self, from: Data(#"{"chunk_size": 8, "chunk_overlap": 2}"#.utf8))
        XCTAssertEqual(decoded, ChunkingOptions(chunkSize: 8, overlap: 2, atFields: false))
    }

    func testWithoutOverlapChunksPartitionTheWords() throws {
        let words = (0..<103).map { "w\($0)" }
        let result = try chunks(words.joined(separator: " "), size: 10, overlap: 0)
        XCTAssertEqual(result.count, 11)
        XCTAssertEqual(result.flatMap { $0.text.split(separator: " ").map(String.init) }, words)
    }

    func testOverlapPropertiesOnManyShapes() throws {
        var generator = SplitMix64(state: 7)
        for trial in 0..<40 {
            let count = Int.random(in: 1...300, using: &generator)
            let words = (0..<count).map { i in "w\(i)" + String(repeating: "x", count: Int.random(in: 0...12, using: &generator)) }
            let separators = ["  ", "\n", " ", "\t", "\n    "]
            var text = ""
            for word in words { text += separators.randomElement(using: &generator)! + word }
            let size = Int.random(in: 1...40, using: &generator)
            let overlap = Int.random(in: 0..<size, using: &generator)
            let tokenizer: any ChunkTokenizer = trial.isMultiple(of: 2) ? WhitespaceTokenizer() : CharacterTokenizer()
            let result = try chunks(text, size: size, overlap: overlap, tokenizer: tokenizer)
            let chunkWords = result.map { $0.text.split(whereSeparator: { $0.isWhitespace }).map(String.init) }
            // Budget: a chunk exceeds it only when it is one word.
            for (chunk, its) in zip(result, chunkWords) where chunk.tokenCount > size {
                XCTAssertEqual(its.count, 1, "trial \(trial)")
            }
            // Coverage and order: each chunk starts inside or right after the previous one, and together they
            // give back the words in order.
            var position = 0
            var rebuilt: [String] = []
            for its in chunkWords {
                guard let first = its.first, let start = words[max(0, position - its.count)...].firstIndex(of: first) else {
                    return XCTFail("trial \(trial): chunk does not start at a word")
                }
                XCTAssertLessThanOrEqual(start, position, "trial \(trial): a word was skipped")
                XCTAssertEqual(Array(words[start..<(start + its.count)]), its, "trial \(trial)")
                rebuilt += its.dropFirst(position - start)
                position = start + its.count
            }
            XCTAssertEqual(rebuilt, words, "trial \(trial)")
            // Overlap: consecutive chunks share at most `overlap` tokens and always advance.
            for i in result.indices.dropFirst() {
                let previous = chunkWords[i - 1], current = chunkWords[i]
                let shared = (0...min(previous.count, current.count)).last { n in
                    Array(previous.suffix(n)) == Array(current.prefix(n))
                } ?? 0
                XCTAssertLessThan(shared, previous.count, "trial \(trial): chunk did not advance")
                if tokenizer is WhitespaceTokenizer { XCTAssertLessThanOrEqual(shared, overlap, "trial \(trial)") }
            }
        }
    }

    func testTokenCountsComeFromTheInjectedTokenizer() throws {
        // Pieces are "leading whitespace + word": "ab" (2), " cd" (3), " e" (2), " fgh" (4).
        let result = try chunks("ab cd e fgh", size: 6, overlap: 0, tokenizer: CharacterTokenizer())
        XCTAssertEqual(result.map(\.text), ["ab cd", "e fgh"])
        XCTAssertEqual(result.map(\.tokenCount), [5, 6])
    }

    func testAWordLongerThanTheBudgetIsAChunkOfItsOwn() throws {
        let result = try chunks("a verylongword b", size: 4, overlap: 1, tokenizer: CharacterTokenizer())
        XCTAssertEqual(result.map(\.text), ["a", "verylongword", "b"])
    }

    func testWhitespaceOnlyTextHasNoChunk() throws {
        XCTAssertEqual(try chunks(" \n\t ", size: 4, overlap: 0), [])
    }

    func testOptionsAreValidated() {
        XCTAssertThrowsRetrievalError(
            .invalidParameter(name: "chunk_size", value: "0", expected: "at least 1 token"),
            try Chunker(options: ChunkingOptions(chunkSize: 0, overlap: 0), tokenizer: WhitespaceTokenizer()))
        XCTAssertThrowsRetrievalError(
            .invalidParameter(name: "chunk_overlap", value: "8", expected: "0 <= chunk_overlap < chunk_size (8)"),
            try Chunker(options: ChunkingOptions(chunkSize: 8, overlap: 8), tokenizer: WhitespaceTokenizer()))
    }

    func testWhitespaceTokenizerCountsWords() {
        XCTAssertEqual(WhitespaceTokenizer().tokenize("Total area:\n  547,030 km2").count, 4)
        XCTAssertEqual(WhitespaceTokenizer().tokenize("same same"), WhitespaceTokenizer().tokenize("same  same"))
    }
}
