import Foundation
import XCTest
@testable import Tokenization

/// Paths and decoded contents of the committed fixtures (see scripts/reference/tokenizer_fixtures.py).
enum Fixtures {
    static let directory: URL = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")

    static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    static func data(_ name: String) throws -> Data { try Data(contentsOf: url(name)) }

    static let texts: [String] = {
        (try? JSONDecoder().decode([String].self, from: Data(contentsOf: url("texts.json")))) ?? []
    }()

    static var corpusSlice: String { (try? String(contentsOf: url("corpus-slice.txt"), encoding: .utf8)) ?? "" }

    /// Outputs of Hugging Face for one tokenizer on `texts`.
    struct Expected: Decodable {
        var ids: [[Int32]]
        var ids_post: [[Int32]]
        var ids_no_special_match: [[Int32]]
        var decoded: [String]
        var decoded_skip: [String]
        var transformers_ids: [[Int32]]?
        var transformers_decoded: [String]?
    }

    struct ExpectedFile: Decodable {
        var tokenizers_version: String
        var hf_trained: Expected
        var hf_prefix: Expected
        var ours: Expected
    }

    static func expected() throws -> ExpectedFile {
        try JSONDecoder().decode(ExpectedFile.self, from: data("expected.json"))
    }
}

/// A readable label for a text in failure messages.
func label(_ text: String) -> String {
    let s = text.prefix(40)
    return "\(s.debugDescription)\(text.count > 40 ? "… (\(text.utf8.count) bytes)" : "")"
}
