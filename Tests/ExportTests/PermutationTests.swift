import Foundation
import XCTest
@testable import Export

/// The Q/K row permutation llama.cpp's converter applies (`LlamaModel.permute`).
final class PermutationTests: XCTestCase {
    func testOneHeadWorkedExample() {
        // 1 head, HD = 4, one column: [a, b, c, d] → [a, c, b, d].
        XCTAssertEqual(GGUFLlamaExport.permuteForGGUF([1, 2, 3, 4], heads: 1, cols: 1), [1, 3, 2, 4])
    }

    func testTwoHeadsTwoColumns() {
        // rows r0..r7 (2 heads × HD 4), row r = [10r, 10r+1]; per head rows [0,1,2,3] → [0,2,1,3].
        let w: [Float] = (0..<8).flatMap { r -> [Float] in [Float(10 * r), Float(10 * r + 1)] }
        let p = GGUFLlamaExport.permuteForGGUF(w, heads: 2, cols: 2)
        let rows = stride(from: 0, to: 16, by: 2).map { Int(p[$0]) / 10 }
        XCTAssertEqual(rows, [0, 2, 1, 3, 4, 6, 5, 7])
        XCTAssertEqual(p[1], 1)
        XCTAssertEqual(p[3], 21)
    }

    /// The reason for the permutation: HF applies RoPE to (x_i, x_{i+HD/2}) pairs ("rotate half"),
    /// llama.cpp's `llama` architecture to adjacent pairs (x_{2i}, x_{2i+1}). Permuting the rows of W_q
    /// makes the two agree: perm(ropeHF(W x)) == ropeAdjacent(perm(W) x).
    func testPermutationMapsRotateHalfRoPEToAdjacentPairs() {
        let hd = 8, heads = 2, cols = 3, pos = 5.0, base = 10000.0
        let w = (0..<(heads * hd * cols)).map { Float(sin(Double($0) * 1.3)) }
        let x: [Float] = [0.3, -1.2, 0.7]
        func matvec(_ m: [Float]) -> [Float] { (0..<(heads * hd)).map { r in (0..<cols).reduce(0) { $0 + m[r * cols + $1] * x[$1] } } }
        func theta(_ i: Int) -> Double { pos * pow(base, -2.0 * Double(i) / Double(hd)) }
        func ropeHF(_ q: [Float]) -> [Float] {
            var out = q
            for h in 0..<heads { for i in 0..<(hd / 2) {
                let a = Double(q[h * hd + i]), b = Double(q[h * hd + i + hd / 2]), t = theta(i)
                out[h * hd + i] = Float(a * cos(t) - b * sin(t))
                out[h * hd + i + hd / 2] = Float(b * cos(t) + a * sin(t))
            } }
            return out
        }
        func ropeAdjacent(_ q: [Float]) -> [Float] {
            var out = q
            for h in 0..<heads { for i in 0..<(hd / 2) {
                let a = Double(q[h * hd + 2 * i]), b = Double(q[h * hd + 2 * i + 1]), t = theta(i)
                out[h * hd + 2 * i] = Float(a * cos(t) - b * sin(t))
                out[h * hd + 2 * i + 1] = Float(b * cos(t) + a * sin(t))
            } }
            return out
        }
        let hf = GGUFLlamaExport.permuteForGGUF(ropeHF(matvec(w)), heads: heads, cols: 1)
        let cpp = ropeAdjacent(matvec(GGUFLlamaExport.permuteForGGUF(w, heads: heads, cols: cols)))
        for (a, b) in zip(hf, cpp) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    }
}
