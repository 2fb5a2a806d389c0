import Foundation
import XCTest
@testable import Preferences

/// Parsing of the three import formats, without a database.
final class ImportParsingTests: XCTestCase {
    func fixture(_ name: String) throws -> Data {
        let url = try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: "jsonl", subdirectory: "Fixtures"))
        return try Data(contentsOf: url)
    }

    func testSplitAtLastAssistantMarkerKeepsMarkerInPrompt() throws {
        let t = "\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: And?\n\nAssistant: Bye."
        let s = try XCTUnwrap(splitHHTranscript(t))
        XCTAssertEqual(s.prompt, "\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: And?\n\nAssistant:")
        XCTAssertEqual(s.reply, " Bye.")
        XCTAssertEqual(s.prompt + s.reply, t)
        XCTAssertNil(splitHHTranscript("\n\nHuman: no reply"))
    }

    func testHHSliceRoundTripsTranscriptsAndReportsMismatchedPrompt() throws {
        let data = try fixture("hh-slice")
        let parsed = parseImport(data, format: .hhRLHF)
        XCTAssertEqual(parsed.lines, 14)
        XCTAssertEqual(parsed.records.count, 13)
        XCTAssertEqual(parsed.invalid, [])
        XCTAssertEqual(parsed.skipped.map(\.line), [14], "line 14 is file line 1010, whose two prompts differ")
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        for r in parsed.records {
            let object = try JSONSerialization.jsonObject(with: Data(lines[r.line - 1].utf8)) as! [String: String]
            XCTAssertEqual(r.prompt + r.responseA, object["chosen"])
            XCTAssertEqual(r.prompt + r.responseB, object["rejected"])
            XCTAssertTrue(r.prompt.hasSuffix("\n\nAssistant:"))
            XCTAssertEqual(r.choice, .a)
        }
        XCTAssertEqual(parsed.records.last?.responseA, " ", "line 13 (file line 68) has an empty chosen reply")
    }

    func testASQAGivesSixPairsPerQuestionWithTies() throws {
        let parsed = parseImport(try fixture("asqa-slice"), format: .asqaFeedback)
        XCTAssertEqual(parsed.invalid, [])
        XCTAssertEqual(parsed.records.count + parsed.skipped.count, 18)
        // First record's preference vector is [0,1,2,1,0,2] over (1v2, 1v3, 1v4, 2v3, 2v4, 3v4).
        let first = parsed.records.filter { $0.line == 1 }
        XCTAssertEqual(first.map(\.choice), [.tie, .a, .b, .a, .tie, .b])
    }

    func testInvalidLinesAreReportedByNumber() throws {
        var data = Data()
        data.append(Data((jsonLine(["prompt": "p", "chosen": "x", "rejected": "y"]) + "\n").utf8))  // 1 ok
        data.append(Data("{not json\n".utf8))                                                         // 2
        data.append(Data([0x7B, 0x22, 0x70, 0x22, 0x3A, 0x22, 0xC3, 0x28, 0x22, 0x7D, 0x0A]))         // 3 bad UTF-8
        data.append(Data((jsonLine(["prompt": "p", "chosen": "x"]) + "\n").utf8))                    // 4 missing key
        data.append(Data("\n".utf8))                                                                  // 5 blank
        data.append(Data((jsonLine(["prompt": "p", "chosen": 3, "rejected": "y"]) + "\n").utf8))     // 6 wrong type
        data.append(Data((jsonLine(["prompt": "p\u{0}", "chosen": "x", "rejected": "y"]) + "\n").utf8)) // 7 NUL
        data.append(Data((jsonLine(["prompt": "p", "chosen": "same", "rejected": "same"])).utf8))    // 8 identical, no newline
        let parsed = parseImport(data, format: .trl)
        XCTAssertEqual(parsed.records.count, 1)
        XCTAssertEqual(parsed.invalid.map(\.line), [2, 3, 4, 6, 7])
        XCTAssertTrue(parsed.invalid[1].message.contains("invalid UTF-8 at byte 6"), parsed.invalid[1].message)
        XCTAssertTrue(parsed.invalid[2].message.contains("\"rejected\""))
        XCTAssertEqual(parsed.skipped.map(\.line), [8])
        XCTAssertEqual(parsed.lines, 7)
    }
}
