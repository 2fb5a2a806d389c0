import Foundation
import XCTest
@testable import Export

/// GGUF v3 layout as ggml `docs/gguf.md` specifies it, checked byte by byte on small files.
final class GGUFWriterTests: XCTestCase {
    func testHeaderMetadataEncodingAndTensorInfos() throws {
        var w = GGUFWriter()
        try w.set("general.architecture", .string("llama"))
        try w.set("llama.block_count", .uint32(3))
        try w.set("llama.rope.freq_base", .float32(10000))
        try w.set("tokenizer.ggml.add_bos_token", .bool(true))
        try w.set("tokenizer.ggml.tokens", .strings(["a", "Ġb"]))
        try w.set("tokenizer.ggml.token_type", .int32s([1, 3]))
        try w.addTensor("a.weight", shape: [3], type: .f32, data: [1, 2, 3])
        try w.addTensor("b.weight", shape: [2, 32], type: .f16, data: [Float](repeating: 0.5, count: 64))
        let data = w.serialized()
        let b = [UInt8](data)

        // Header: "GGUF", version 3 (u32), tensor count 2 (u64), kv count 6 (u64).
        XCTAssertEqual(Array(b[0..<4]), [0x47, 0x47, 0x55, 0x46])
        XCTAssertEqual(Array(b[4..<8]), [3, 0, 0, 0])
        XCTAssertEqual(Array(b[8..<16]), [2, 0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(Array(b[16..<24]), [6, 0, 0, 0, 0, 0, 0, 0])
        // First key-value: key length 20 (u64), "general.architecture", type 8 (string), length 5, "llama".
        XCTAssertEqual(Array(b[24..<32]), [20, 0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(String(decoding: b[32..<52], as: UTF8.self), "general.architecture")
        XCTAssertEqual(Array(b[52..<56]), [8, 0, 0, 0])
        XCTAssertEqual(Array(b[56..<64]), [5, 0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(String(decoding: b[64..<69], as: UTF8.self), "llama")
        // Second: "llama.block_count" (17 bytes), type 4 (u32), value 3.
        XCTAssertEqual(Array(b[69..<77]), [17, 0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(Array(b[94..<98]), [4, 0, 0, 0])
        XCTAssertEqual(Array(b[98..<102]), [3, 0, 0, 0])

        let parsed = try ParsedGGUF(data)
        XCTAssertEqual(parsed.version, 3)
        XCTAssertEqual(parsed.value("llama.rope.freq_base"), .float32(10000))
        XCTAssertEqual(parsed.value("tokenizer.ggml.add_bos_token"), .bool(true))
        XCTAssertEqual(parsed.value("tokenizer.ggml.tokens"), .array(.string, [.string("a"), .string("Ġb")]))
        XCTAssertEqual(parsed.value("tokenizer.ggml.token_type"), .array(.int32, [.int32(1), .int32(3)]))
        // Tensor infos: dims innermost first, type, offsets relative to the data section and aligned to 32.
        XCTAssertEqual(parsed.tensors.map(\.name), ["a.weight", "b.weight"])
        XCTAssertEqual(parsed.tensors[0].dims, [3])
        XCTAssertEqual(parsed.tensors[1].dims, [32, 2])
        XCTAssertEqual(parsed.tensors.map(\.type), [0, 1])
        XCTAssertEqual(parsed.tensors.map(\.offset), [0, 32])  // 12 bytes of F32, padded to 32
        XCTAssertEqual(parsed.dataStart % 32, 0)
        XCTAssertEqual(w.tensorInfos.map(\.offset), [0, 32])
        // Padding before the data section and after the first tensor is zeros.
        XCTAssertEqual(Array(b[(parsed.dataStart - 1)..<parsed.dataStart]).allSatisfy { $0 == 0 } || parsed.dataStart == w.headerBytes().count, true)
        XCTAssertEqual(w.headerBytes().count, parsed.dataStart)
        XCTAssertEqual(parsed.data(of: "a.weight", count: 12), [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40])
        XCTAssertEqual(Array(b[(parsed.dataStart + 12)..<(parsed.dataStart + 32)]), [UInt8](repeating: 0, count: 20))
        // F16 0.5 = 0x3800, little-endian.
        XCTAssertEqual(parsed.data(of: "b.weight", count: 4), [0x00, 0x38, 0x00, 0x38])
        XCTAssertEqual(b.count, parsed.dataStart + 32 + 128)
    }

    func testCustomAlignmentIsRecordedAndApplied() throws {
        var w = GGUFWriter(alignment: 64)
        try w.addTensor("x", shape: [1], type: .f32, data: [7])
        try w.addTensor("y", shape: [1], type: .f32, data: [8])
        let parsed = try ParsedGGUF(w.serialized())
        XCTAssertEqual(parsed.value("general.alignment"), .uint32(64))
        XCTAssertEqual(parsed.dataStart % 64, 0)
        XCTAssertEqual(parsed.tensors.map(\.offset), [0, 64])
        XCTAssertEqual(parsed.data(of: "y", count: 4), [0, 0, 0, 0x41])
    }

    func testRejectsBadInput() throws {
        var w = GGUFWriter()
        try w.set("k", .uint32(1))
        XCTAssertThrowsError(try w.set("k", .uint32(2)))
        XCTAssertThrowsError(try w.set("mixed", .array(.string, [.string("a"), .uint32(1)])))
        XCTAssertThrowsError(try w.addTensor("t", shape: [2, 48], type: .q8_0, data: [Float](repeating: 1, count: 96))) { error in
            XCTAssertEqual(error as? ExportError, .rowLengthNotQuantizable(tensor: "t", rowLength: 48, type: "Q8_0", blockSize: 32))
        }
        XCTAssertThrowsError(try w.addTensor("t", shape: [2, 2], type: .f32, data: [1, 2, 3]))
        XCTAssertThrowsError(try w.addTensor(String(repeating: "n", count: 65), shape: [1], type: .f32, data: [1]))
    }
}
