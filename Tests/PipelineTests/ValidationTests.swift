import XCTest
@testable import Pipeline

/// Validation happens before anything runs; each error names file:line:column and a fix.
final class ValidationTests: XCTestCase {
    func errors(_ yaml: String, sandbox: Sandbox) throws -> [PipelineError] {
        let file = try sandbox.write("p.yaml", yaml)
        do {
            _ = try PipelineValidator.validate(try PipelineSpec.load(file), registry: Sandbox.registry)
            XCTFail("expected validation errors")
            return []
        } catch PipelineError.multiple(let list) {
            return list
        } catch let e as PipelineError {
            return [e]
        }
    }

    func location(_ e: PipelineError) -> (Int, Int, String)? {
        if case let .invalid(loc, message, _) = e { return (loc.line, loc.column, message) }
        return nil
    }

    func testEachErrorNamesLineColumnAndFix() throws {
        let sandbox = try Sandbox()
        let yaml = """
            name: bad
            seed: 1
            stages:
              a:
                kind: test-wirte
              b:
                kind: test-write
                needs: [nope]
                params:
                  txt: hello
                  steps: many
                  files: [missing.txt]
              c:
                kind: test-write
                params:
                  tag: x
            """
        let list = try errors(yaml, sandbox: sandbox)
        let found = list.compactMap(location)
        func has(_ line: Int, _ column: Int, _ fragment: String, file: StaticString = #filePath, lineNo: UInt = #line) {
            XCTAssertTrue(found.contains { $0.0 == line && $0.1 == column && $0.2.contains(fragment) },
                          "no error at \(line):\(column) containing '\(fragment)' in \(found)", file: file, line: lineNo)
        }
        has(5, 11, "unknown stage kind 'test-wirte'")
        has(8, 13, "needs 'nope'")
        has(10, 7, "unknown parameter 'txt'")
        has(11, 14, "parameter 'steps' must be an integer")
        has(12, 14, "path 'missing.txt' does not exist")
        has(10, 7, "stage 'b': missing required parameter 'text'")
        has(16, 7, "stage 'c': missing required parameter 'text'")
        XCTAssertEqual(list.count, 7)
        let description = PipelineError.multiple(list).description
        XCTAssertTrue(description.contains("p.yaml:5:11: error:"), description)
        XCTAssertTrue(description.contains("did you mean 'test-write'?"), description)
        XCTAssertTrue(description.contains("did you mean 'text'?"), description)
    }

    func testCycleIsReported() throws {
        let sandbox = try Sandbox()
        let list = try errors("""
            stages:
              a: {kind: test-write, needs: [c], params: {text: a}}
              b: {kind: test-write, needs: [a], params: {text: b}}
              c: {kind: test-write, needs: [b], params: {text: c}}
            """, sandbox: sandbox)
        XCTAssertEqual(list.count, 1)
        let (line, _, message) = try XCTUnwrap(location(list[0]))
        XCTAssertEqual(line, 2)
        XCTAssertTrue(message.contains("cycle: a -> c -> b -> a") || message.contains("cycle"), message)
    }

    func testMalformedYAMLNamesPosition() throws {
        let sandbox = try Sandbox()
        let list = try errors("stages:\n  a: {kind: command\n", sandbox: sandbox)
        let (line, _, message) = try XCTUnwrap(location(list[0]))
        XCTAssertEqual(line, 3)
        XCTAssertTrue(message.hasPrefix("malformed YAML"), message)
    }

    func testTypesDefaultsAndTopologicalOrder() throws {
        let sandbox = try Sandbox()
        try sandbox.write("data/x.txt", "x")
        let file = try sandbox.write("p.yaml", """
            name: ok
            seed: 42
            stages:
              late: {kind: test-write, needs: [early], params: {text: "1", ratio: 2, files: [data/x.txt]}}
              early: {kind: test-write, seed: 9, params: {text: hi}}
            """)
        let v = try PipelineValidator.validate(try PipelineSpec.load(file), registry: Sandbox.registry)
        XCTAssertEqual(v.stages.map(\.name), ["early", "late"])
        let late = try XCTUnwrap(v.stage("late"))
        XCTAssertEqual(try late.params.string("text"), "1")
        XCTAssertEqual(try late.params.double("ratio"), 2.0)
        XCTAssertEqual(try late.params.int("steps"), 3)
        XCTAssertEqual(late.seed, 42)
        XCTAssertEqual(v.stage("early")?.seed, 9)
        XCTAssertEqual(late.pathInputs.map(\.url.lastPathComponent), ["x.txt"])
        XCTAssertThrowsError(try late.params.int("text")) { error in
            XCTAssertTrue("\(error)".contains("parameter 'text': expected an integer"), "\(error)")
        }
    }

    func testCanonicalJSONSortsKeys() {
        let v: ParameterValue = .map(["b": .int(1), "a": .list([.float(0.5), .bool(true), .string("q\"\n")]), "c": .null])
        XCTAssertEqual(v.canonicalJSON, #"{"a":[0.5,true,"q\"\n"],"b":1,"c":null}"#)
        // The canonical text parses back to the same JSON.
        let parsed = try? JSONSerialization.jsonObject(with: Data(v.canonicalJSON.utf8)) as? [String: Any]
        XCTAssertEqual(parsed?["b"] as? Int, 1)
    }

    func testCanonicalJSONStringsEscapeEveryControlCharacterAndParseBack() throws {
        // Every ASCII scalar, the slash and non-ASCII text, through the shared JSONText escaping.
        let text = String(String.UnicodeScalarView((0..<0x80).map { Unicode.Scalar(UInt8($0)) })) + "/é😀"
        let json = ParameterValue.map([text: .string(text)]).canonicalJSON
        XCTAssertTrue(json.contains(#"\u0000\u0001"#) && json.contains(#"\t\n\u000b\u000c\r"#) && json.contains(#"\\"#) && json.contains(#"\""#), json)
        XCTAssertTrue(json.unicodeScalars.allSatisfy { $0.value >= 0x20 }, "no raw control character is left")
        let parsed = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: String])
        XCTAssertEqual(parsed, [text: text])
    }
}

