// Attention: finite differences with GQA and left padding, a Double reference forward, and the
// incremental (Tq < Tk) form the KV cache uses.

import Tensors
import XCTest

final class AttentionTests: XCTestCase {
    var rng = Xoshiro256(seed: 7)
    let b = 2, t = 5, h = 4, g = 2, d = 4
    // Row 1 is left-padded by 2: its first two queries see no key at all.
    let mask: [UInt8] = [1, 1, 1, 1, 1, 0, 0, 1, 1, 1]

    func testForwardMatchesDoubleReference() {
        let shape = AttentionShape(batch: b, queryLength: t, keyLength: t, heads: h, kvHeads: g, headDim: d)
        let q = randomArray(b * t * h * d, rng: &rng), k = randomArray(b * t * g * d, rng: &rng), v = randomArray(b * t * g * d, rng: &rng)
        let out = Tensor(shape: [b * t, h * d]), probs = Tensor(shape: [b, h, t, t])
        run(out, probs, q, k, v, shape)
        for bi in 0..<b { for hi in 0..<h { for i in 0..<t {
            let kv = hi / (h / g)
            var scores = [Double](), idx = [Int]()
            for j in 0...i where mask[bi * t + j] != 0 {
                var s = 0.0
                for c in 0..<d { s += Double(q[(bi * t + i) * h * d + hi * d + c]) * Double(k[(bi * t + j) * g * d + kv * d + c]) }
                scores.append(s / Double(d).squareRoot()); idx.append(j)
            }
            for c in 0..<d {
                var ref = 0.0
                if !scores.isEmpty {
                    let m = scores.max()!, e = scores.map { exp($0 - m) }, z = e.reduce(0, +)
                    for (n, j) in idx.enumerated() { ref += e[n] / z * Double(v[(bi * t + j) * g * d + kv * d + c]) }
                }
                let got = out[(bi * t + i) * h * d + hi * d + c]
                XCTAssertFalse(got.isNaN)
                XCTAssertEqual(Double(got), ref, accuracy: 1e-5, "b\(bi) h\(hi) i\(i) c\(c)")
            }
        } } }
    }

    func testBackwardFiniteDifferences() {
        let shape = AttentionShape(batch: b, queryLength: t, keyLength: t, heads: h, kvHeads: g, headDim: d)
        let q = Tensor(shape: [b * t, h * d], values: randomArray(b * t * h * d, rng: &rng))
        let k = Tensor(shape: [b * t, g * d], values: randomArray(b * t * g * d, rng: &rng))
        let v = Tensor(shape: [b * t, g * d], values: randomArray(b * t * g * d, rng: &rng))
        let dout = randomArray(b * t * h * d, rng: &rng)
        let out = Tensor(shape: [b * t, h * d]), probs = Tensor(shape: [b, h, t, t])
        func objective() -> Double {
            mask.withUnsafeBufferPointer { attentionForward(out: out.data, probs: probs.data, q: q.data, k: k.data, v: v.data, keyMask: $0.baseAddress, shape: shape) }
            return weightedSum(out.data, dout)
        }
        _ = objective()
        let dq = Tensor(shape: q.shape), dk = Tensor(shape: k.shape), dv = Tensor(shape: v.shape), scratch = Tensor(shape: [t, t])
        dout.withUnsafeBufferPointer {
            attentionBackward(dq: dq.data, dk: dk.data, dv: dv.data, scratch: scratch.data, dout: $0.baseAddress!, probs: probs.data,
                              q: q.data, k: k.data, v: v.data, shape: shape)
        }
        assertGradient("attention dq", x: q.data, count: q.count, analytic: dq.toArray(), eps: 1e-3, objective: objective)
        assertGradient("attention dk", x: k.data, count: k.count, analytic: dk.toArray(), eps: 1e-3, objective: objective)
        assertGradient("attention dv", x: v.data, count: v.count, analytic: dv.toArray(), eps: 1e-3, objective: objective)
        // Padded keys get no gradient; fully masked queries get none either.
        for j in [5, 6] { for c in 0..<(g * d) { XCTAssertEqual(dk[j * g * d + c], 0); XCTAssertEqual(dv[j * g * d + c], 0) } }
        for j in [5, 6] { for c in 0..<(h * d) { XCTAssertEqual(dq[j * h * d + c], 0) } }
    }

    /// The KV-cache form: the last query alone against all keys (stored with a larger batch stride)
    /// equals the last row of the full causal pass.
    func testIncrementalQueryMatchesFullPass() {
        let full = AttentionShape(batch: b, queryLength: t, keyLength: t, heads: h, kvHeads: g, headDim: d)
        let q = randomArray(b * t * h * d, rng: &rng), k = randomArray(b * t * g * d, rng: &rng), v = randomArray(b * t * g * d, rng: &rng)
        let out = Tensor(shape: [b * t, h * d]), probs = Tensor(shape: [b, h, t, t])
        run(out, probs, q, k, v, full)
        // Cache with capacity 8 per sequence.
        let cap = 8, kvw = g * d
        var kc = [Float](repeating: 9, count: b * cap * kvw), vc = kc
        for bi in 0..<b {
            for j in 0..<t {
                let dst: Int = (bi * cap + j) * kvw
                let src: Int = (bi * t + j) * kvw
                for c in 0..<kvw {
                    kc[dst + c] = k[src + c]
                    vc[dst + c] = v[src + c]
                }
            }
        }
        var qLast = [Float]()
        let width: Int = h * d
        for bi in 0..<b {
            let start: Int = (bi * t + t - 1) * width
            qLast += q[start..<(start + width)]
        }
        let step = AttentionShape(batch: b, queryLength: 1, keyLength: t, heads: h, kvHeads: g, headDim: d, keyBatchStride: cap * kvw)
        let out1 = Tensor(shape: [b, h * d]), probs1 = Tensor(shape: [b, h, 1, t])
        run(out1, probs1, qLast, kc, vc, step)
        for bi in 0..<b {
            let row: Int = (bi * t + t - 1) * width
            for c in 0..<width { XCTAssertEqual(out1[bi * width + c], out[row + c], accuracy: 1e-6) }
        }
    }

    private func run(_ out: Tensor, _ probs: Tensor, _ q: [Float], _ k: [Float], _ v: [Float], _ s: AttentionShape) {
        q.withUnsafeBufferPointer { qp in k.withUnsafeBufferPointer { kp in v.withUnsafeBufferPointer { vp in
            var m = [UInt8]()
            for bi in 0..<s.batch { m += mask[(bi * t)..<(bi * t + s.keyLength)] }
            m.withUnsafeBufferPointer {
                attentionForward(out: out.data, probs: probs.data, q: qp.baseAddress!, k: kp.baseAddress!, v: vp.baseAddress!, keyMask: $0.baseAddress, shape: s)
            }
        } } }
    }
}
