import Foundation
import XCTest
@testable import Export

/// Q8_0 / Q4_0 blocks against values worked out by hand from ggml's reference quantizers
/// (`quantize_row_q8_0_ref`, `quantize_row_q4_0_ref` in ggml-quants.c).
final class QuantizationTests: XCTestCase {
    private func encode(_ x: [Float], _ type: GGMLType) -> [UInt8] {
        var out: [UInt8] = []
        x.withUnsafeBufferPointer { ggmlEncode($0, as: type, into: &out) }
        return out
    }

    func testQ8_0BlockByHand() {
        // amax = 127 → d = 127/127 = 1 (fp16 0x3C00), q = roundf(x): halves round away from zero.
        var x = [Float](repeating: 0, count: 32)
        x[0] = -127; x[1] = 0.5; x[2] = -0.5; x[3] = 1.49; x[4] = 2.5; x[5] = 100.2; x[31] = 126.6
        let b = encode(x, .q8_0)
        XCTAssertEqual(b.count, 34)
        XCTAssertEqual(Array(b[0..<2]), [0x00, 0x3C])
        let q = b[2...].map { Int8(bitPattern: $0) }
        XCTAssertEqual(Array(q[0..<6]), [-127, 1, -1, 1, 3, 100])
        XCTAssertEqual(q[31], 127)
        XCTAssertEqual(Array(q[6..<31]), [Int8](repeating: 0, count: 25))
        // Dequantised: q·d (the bound allows for d stored as fp16: 127·d·2^-11 ≈ 0.06·d).
        XCTAssertEqual(ggmlDecode(b, as: .q8_0, count: 32)?[4], 3)
    }

    func testQ8_0ScaleIsAmaxOver127() {
        // x_j = j/31 · 2.54: amax 2.54 → d = 0.02 (stored as fp16 0x251F = 0.0200042…), q_31 = 127, q_1 = round(0.0819…/0.02) = 4.
        let x = (0..<32).map { Float($0) / 31 * 2.54 }
        let b = encode(x, .q8_0)
        XCTAssertEqual(UInt16(b[0]) | UInt16(b[1]) << 8, Float16(Float(2.54) / 127).bitPattern)
        XCTAssertEqual(Int8(bitPattern: b[2 + 31]), 127)
        XCTAssertEqual(Int8(bitPattern: b[2 + 1]), 4)
    }

    func testQ4_0BlockByHand() {
        // The largest |x| is -8 → d = -8 / -8 = 1, q = min(15, trunc(x + 8.5)).
        var x = [Float](repeating: 0, count: 32)
        x[0] = -8      // q 0
        x[1] = 7       // 15.5 → 15
        x[2] = 0.49    // 8.99 → 8
        x[3] = 0.5     // 9.0 → 9
        x[4] = -0.51   // 7.99 → 7
        x[16] = 7.4    // 15.9 → 15 (high nibble of byte 0)
        x[17] = -3     // 5.5 → 5 (high nibble of byte 1)
        let b = encode(x, .q4_0)
        XCTAssertEqual(b.count, 18)
        XCTAssertEqual(Array(b[0..<2]), [0x00, 0x3C])
        XCTAssertEqual(b[2], 0x0 | 0xF << 4)   // x0 low, x16 high
        XCTAssertEqual(b[3], 0xF | 0x5 << 4)   // x1 low, x17 high
        XCTAssertEqual(b[4], 0x8 | 0x8 << 4)   // 0.49 → 8; x18 = 0 → 8
        XCTAssertEqual(b[5], 0x9 | 0x8 << 4)
        XCTAssertEqual(b[6], 0x7 | 0x8 << 4)
        XCTAssertEqual(ggmlDecode(b, as: .q4_0, count: 32)?[0..<5].map { $0 }, [-8, 7, 0, 1, -1])
    }

    func testQ4_0PositiveMaximumGivesNegativeScale() {
        // Largest |x| is +8 → d = 8 / -8 = -1 (fp16 0xBC00), q = min(15, trunc(-x + 8.5)); x = -8 clamps 16 → 15.
        var x = [Float](repeating: 0, count: 32)
        x[0] = 8; x[1] = -7; x[2] = -8
        let b = encode(x, .q4_0)
        XCTAssertEqual(Array(b[0..<2]), [0x00, 0xBC])
        XCTAssertEqual(b[2] & 0x0F, 0)
        XCTAssertEqual(b[3] & 0x0F, 15)
        XCTAssertEqual(b[4] & 0x0F, 15)
        XCTAssertEqual(ggmlDecode(b, as: .q4_0, count: 32)?[0], 8)
    }

    func testZeroBlocks() {
        let zeros = [Float](repeating: 0, count: 32)
        XCTAssertEqual(encode(zeros, .q8_0), [UInt8](repeating: 0, count: 34))
        // Q4_0: d = 0 / -8 = -0.0 in IEEE arithmetic (fp16 0x8000, as ggml writes it); q = trunc(0 + 8.5) = 8.
        XCTAssertEqual(encode(zeros, .q4_0), [0x00, 0x80] + [UInt8](repeating: 0x88, count: 16))
    }

    func testRoundTripErrorIsBoundedByHalfAStep() {
        let x = (0..<256).map { Float(sin(Double($0) * 0.7)) }
        for type in [GGMLType.q8_0, .q4_0] {
            let back = ggmlDecode(encode(x, type), as: type, count: x.count)!
            for blockStart in stride(from: 0, to: x.count, by: 32) {
                let amax = x[blockStart..<(blockStart + 32)].map(abs).max()!
                let step = type == .q8_0 ? amax / 127 : amax / 8
                for j in blockStart..<(blockStart + 32) {
                    XCTAssertLessThanOrEqual(abs(back[j] - x[j]), step * (type == .q8_0 ? 0.57 : 1.02), "\(type) element \(j)")
                }
            }
        }
    }

    func testBF16RoundsToNearestEven() {
        // 1 + 2^-8 is halfway between bf16 1.0 and 1.0078125 → even (1.0); 1 + 3·2^-8 → up to 1.015625.
        XCTAssertEqual(bfloat16Bits(1 + 1 / 256), 0x3F80)
        XCTAssertEqual(bfloat16Bits(1 + 3 / 256), 0x3F82)
    }
}
