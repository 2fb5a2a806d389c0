import Foundation
import SafeTensors
import XCTest

final class SafeTensorsTests: XCTestCase {
    private func tempURL() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("st-\(UUID().uuidString).safetensors")
    }

    func testHeaderLayoutByHand() throws {
        var w = SafeTensorsWriter()
        try w.add("a", shape: [2], floats: [1, -2])
        let data = w.serialized()
        var n = 0
        for i in 0..<8 { n |= Int(data[i]) << (8 * i) }
        XCTAssertEqual(n % 8, 0, "header padded to 8 bytes")
        let header = String(decoding: data[8..<(8 + n)], as: UTF8.self).trimmingCharacters(in: .whitespaces)
        XCTAssertEqual(header, #"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#)
        XCTAssertEqual(data.count, 8 + n + 8)
        // 1.0f = 0x3F800000 little-endian, -2.0f = 0xC0000000
        XCTAssertEqual(Array(data[(8 + n)...]), [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0])
    }

    func testRoundTripF32F16BF16() throws {
        let values: [Float] = [0, 1, -1.5, 3.140625, 65504, -0.000061035156, 1e-3]
        var w = SafeTensorsWriter()
        try w.add("f32", shape: [7], floats: values, dtype: .f32)
        try w.add("f16", shape: [7], floats: values, dtype: .f16)
        try w.add("bf16", shape: [7, 1], floats: values, dtype: .bf16)
        let url = tempURL()
        defer { try? FileManager.default.removeItem(at: url) }
        try w.write(to: url)
        let f = try SafeTensorsFile.read(contentsOf: url)
        XCTAssertEqual(f.metadata, ["format": "pt"])
        XCTAssertEqual(f.names, ["f32", "f16", "bf16"])
        XCTAssertEqual(try f.floats("f32"), values)
        let h = try f.floats("f16")
        for (a, b) in zip(h, values) { XCTAssertEqual(a, Float(Float16(b))) }
        let bf = try f.floats("bf16", shape: [7, 1])
        XCTAssertEqual(bf[3], 3.140625, "exactly representable in bf16")
        XCTAssertEqual(bf[1], 1)
        XCTAssertEqual(f.entry("bf16")?.dtype, .bf16)
    }

    func testBFloat16RoundsToNearestEven() {
        // 1 + 2^-8 is halfway between bf16 neighbours 1 and 1 + 2^-7: ties to even (1).
        XCTAssertEqual(bfloat16BitsToFloat(floatToBFloat16Bits(1 + 1.0 / 256)), 1)
        XCTAssertEqual(bfloat16BitsToFloat(floatToBFloat16Bits(1 + 3.0 / 256)), 1 + 4.0 / 256)
        XCTAssertTrue(bfloat16BitsToFloat(floatToBFloat16Bits(.nan)).isNaN)
    }

    func testTruncatedFileIsReported() throws {
        var w = SafeTensorsWriter()
        try w.add("weight", shape: [4, 4], floats: [Float](repeating: 1, count: 16))
        let data = w.serialized()
        XCTAssertThrowsError(try SafeTensorsFile(data: data.prefix(data.count - 4), path: "x.safetensors")) { error in
            guard case let SafeTensorsError.truncated(path, detail)? = error as? SafeTensorsError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, "x.safetensors")
            XCTAssertTrue(detail.contains("weight"))
        }
        XCTAssertThrowsError(try SafeTensorsFile(data: data.prefix(5))) {
            guard case SafeTensorsError.truncated? = $0 as? SafeTensorsError else { return XCTFail("\($0)") }
        }
    }

    func testShapeMismatchMissingAndWrongDType() throws {
        var w = SafeTensorsWriter()
        try w.add("w", shape: [2, 3], floats: [Float](repeating: 0, count: 6))
        try w.addRaw("step", shape: [1], dtype: .i64, bytes: Data(count: 8))
        let f = try SafeTensorsFile(data: w.serialized())
        XCTAssertThrowsError(try f.floats("w", shape: [3, 2])) {
            XCTAssertEqual($0 as? SafeTensorsError, .shapeMismatch(name: "w", expected: [3, 2], found: [2, 3]))
        }
        XCTAssertThrowsError(try f.floats("nope")) {
            XCTAssertEqual($0 as? SafeTensorsError, .missingTensor(name: "nope", path: "<memory>"))
        }
        XCTAssertThrowsError(try f.floats("step")) {
            XCTAssertEqual($0 as? SafeTensorsError, .unsupportedDType(name: "step", dtype: "I64"))
        }
        XCTAssertEqual(try f.rawBytes("step").count, 8)
    }

    func testMalformedHeaderAndWriterMisuse() throws {
        var bad = Data([5, 0, 0, 0, 0, 0, 0, 0])
        bad.append(Data("nope!".utf8))
        XCTAssertThrowsError(try SafeTensorsFile(data: bad)) {
            guard case SafeTensorsError.malformedHeader? = $0 as? SafeTensorsError else { return XCTFail("\($0)") }
        }
        var w = SafeTensorsWriter()
        XCTAssertThrowsError(try w.add("x", shape: [3], floats: [1, 2]))
        try w.add("x", shape: [2], floats: [1, 2])
        XCTAssertThrowsError(try w.add("x", shape: [2], floats: [1, 2]))
    }

    func testReadsFileWrittenByPythonSafetensors() throws {
        // Written by scripts/reference/safetensors_fixture.py (Python safetensors + torch).
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/python-written", withExtension: "safetensors"))
        let f = try SafeTensorsFile.read(contentsOf: url)
        XCTAssertEqual(f.metadata["format"], "pt")
        XCTAssertEqual(try f.floats("model.norm.weight", shape: [3]), [1, -2.5, 3.140625])
        XCTAssertEqual(try f.floats("half", shape: [2, 2]), [1, 2, -0.5, 65504])
        XCTAssertEqual(try f.floats("brain"), [1, 3.140625, -7])
        XCTAssertEqual(f.entry("step")?.dtype, .i64)
        XCTAssertEqual(try f.rawBytes("step"), Data([7, 0, 0, 0, 0, 0, 0, 0]))
    }
}
