import Foundation
import Logging
import XCTest
@testable import Retrieval

/// Fixture files copied into the test bundle.
enum Fixtures {
    static func url(_ name: String, _ ext: String) throws -> URL {
        try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: ext, subdirectory: "Fixtures"), "missing fixture \(name).\(ext)")
    }
}

/// A fresh temporary directory, removed at the end of the test.
func temporaryDirectory(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("retrieval-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// A logger that drops everything.
let silentLogger = Logger(label: "retrieval-tests", factory: { _ in SwiftLogNoOpLogHandler() })

/// One token per character (a stand-in with a different fingerprint than `WhitespaceTokenizer`).
struct CharacterTokenizer: ChunkTokenizer {
    var fingerprint: String { "characters-v1" }
    func tokenize(_ text: String) -> [Int32] { text.unicodeScalars.map { Int32($0.value) } }
}

/// Builds the index of the 20-element fixture knowledge base in a temporary directory.
func buildElementsIndex(
    _ test: XCTestCase, chunkSize: Int = 64, overlap: Int = 16, tokenizer: any ChunkTokenizer = WhitespaceTokenizer()
) throws -> KnowledgeIndex {
    let directory = try temporaryDirectory(test)
    let chunker = try Chunker(options: ChunkingOptions(chunkSize: chunkSize, overlap: overlap), tokenizer: tokenizer)
    return try KnowledgeIndex.build(
        knowledgeBase: try Fixtures.url("elements_kb_slice", "jsonl"), chunker: chunker,
        at: directory.appendingPathComponent(KnowledgeIndex.fileName), logger: silentLogger)
}

func jsonl(_ lines: [String]) -> Data { Data(lines.joined(separator: "\n").utf8) }

/// Asserts that `body` throws exactly `expected`.
func XCTAssertThrowsRetrievalError<T>(
    _ expected: RetrievalError, _ body: @autoclosure () throws -> T, file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertThrowsError(try body(), file: file, line: line) { error in
        XCTAssertEqual(error as? RetrievalError, expected, file: file, line: line)
    }
}
