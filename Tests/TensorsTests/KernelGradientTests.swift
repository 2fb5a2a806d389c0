// Finite-difference checks of every kernel's backward against its forward.

import Tensors
import XCTest

final class KernelGradientTests: XCTestCase {
    var rng = Xoshiro256(seed: 42)

    func testLinear() {
        let n = 5, i = 7, o = 6
        let x = Tensor(shape: [n, i], values: randomArray(n * i, rng: &rng))
        let w = Tensor(shape: [o, i], values: randomArray(o * i, rng: &rng))
        let dout = randomArray(n * o, rng: &rng)
        let out = Tensor(shape: [n, o])
        func objective() -> Double {
            linearForward(out: out.data, inp: x.data, weight: w.data, rows: n, inFeatures: i, outFeatures: o)
            return weightedSum(out.data, dout)
        }
        let dx = Tensor(shape: [n, i]), dw = Tensor(shape: [o, i])
        dx.fill(0.5); dw.fill(-0.25)  // backward must accumulate, not overwrite
        dout.withUnsafeBufferPointer {
            linearBackward(dinp: dx.data, dweight: dw.data, dout: $0.baseAddress!, inp: x.data, weight: w.data,
                           rows: n, inFeatures: i, outFeatures: o)
        }
        assertGradient("linear dinp", x: x.data, count: x.count, analytic: dx.toArray().map { $0 - 0.5 }, objective: objective)
        assertGradient("linear dweight", x: w.data, count: w.count, analytic: dw.toArray().map { $0 + 0.25 }, objective: objective)
        // Forward against a direct triple loop.
        _ = objective()
        for r in 0..<n { for c in 0..<o {
            var s: Float = 0
            for k in 0..<i { s += x[r * i + k] * w[c * i + k] }
            XCTAssertEqual(out[r * o + c], s, accuracy: 1e-5)
        } }
    }

    func testEmbeddingSkipsPaddingRow() {
        let v = 6, c = 4
        let tokens: [Int32] = [1, 3, 1, 0, 5]
        let w = Tensor(shape: [v, c], values: randomArray(v * c, rng: &rng))
        let dout = randomArray(tokens.count * c, rng: &rng)
        let out = Tensor(shape: [tokens.count, c])
        func objective() -> Double {
            tokens.withUnsafeBufferPointer { embeddingForward(out: out.data, tokens: $0.baseAddress!, weight: w.data, rows: 5, channels: c) }
            return weightedSum(out.data, dout)
        }
        let dw = Tensor(shape: [v, c])
        tokens.withUnsafeBufferPointer { t in dout.withUnsafeBufferPointer {
            embeddingBackward(dweight: dw.data, dout: $0.baseAddress!, tokens: t.baseAddress!, rows: 5, channels: c, paddingIndex: nil)
        } }
        assertGradient("embedding dweight", x: w.data, count: w.count, analytic: dw.toArray(), objective: objective)
        let dwPad = Tensor(shape: [v, c])
        tokens.withUnsafeBufferPointer { t in dout.withUnsafeBufferPointer {
            embeddingBackward(dweight: dwPad.data, dout: $0.baseAddress!, tokens: t.baseAddress!, rows: 5, channels: c, paddingIndex: 0)
        } }
        XCTAssertEqual(Array(dwPad.toArray()[0..<c]), [Float](repeating: 0, count: c), "padding row gets no gradient")
        XCTAssertEqual(Array(dwPad.toArray()[c...]), Array(dw.toArray()[c...]))
    }

    func testRMSNorm() {
        let n = 4, c = 8
        let x = Tensor(shape: [n, c], values: randomArray(n * c, rng: &rng))
        let w = Tensor(shape: [c], values: randomArray(c, std: 0.3, rng: &rng).map { $0 + 1 })
        let dout = randomArray(n * c, rng: &rng)
        let out = Tensor(shape: [n, c]), rstd = Tensor(shape: [n])
        func objective() -> Double {
            rmsNormForward(out: out.data, rstd: rstd.data, inp: x.data, weight: w.data, rows: n, channels: c, eps: 1e-6)
            return weightedSum(out.data, dout)
        }
        _ = objective()
        let dx = Tensor(shape: [n, c]), dw = Tensor(shape: [c])
        dout.withUnsafeBufferPointer {
            rmsNormBackward(dinp: dx.data, dweight: dw.data, dout: $0.baseAddress!, inp: x.data, weight: w.data, rstd: rstd.data, rows: n, channels: c)
        }
        assertGradient("rmsnorm dinp", x: x.data, count: x.count, analytic: dx.toArray(), eps: 1e-3, objective: objective)
        assertGradient("rmsnorm dweight", x: w.data, count: w.count, analytic: dw.toArray(), eps: 1e-3, objective: objective)
    }

    func testRoPE() {
        let n = 3, h = 2, d = 8
        let x = Tensor(shape: [n, h * d], values: randomArray(n * h * d, rng: &rng))
        let positions: [Int32] = [0, 5, 17]
        let cos = Tensor(shape: [n, d / 2]), sin = Tensor(shape: [n, d / 2])
        positions.withUnsafeBufferPointer { ropeTables(cos: cos.data, sin: sin.data, positions: $0.baseAddress!, rows: n, headDim: d, theta: 10000) }
        // Position 0 is the identity; the rotation preserves each pair's norm.
        let y = x.clone()
        ropeForward(x: y.data, cos: cos.data, sin: sin.data, rows: n, heads: h, headDim: d)
        for j in 0..<(h * d) { XCTAssertEqual(y[j], x[j], accuracy: 1e-7) }
        // HF rotate-half pairs i with i + D/2: check one element against the formula in Double.
        let angle = 17.0 * pow(10000.0, -2.0 * 1 / 8.0)
        XCTAssertEqual(Double(y[2 * h * d + 1]), Double(x[2 * h * d + 1]) * Foundation.cos(angle) - Double(x[2 * h * d + 5]) * Foundation.sin(angle), accuracy: 1e-5)
        let dout = randomArray(x.count, rng: &rng)
        let tmp = Tensor(shape: x.shape)
        func objective() -> Double {
            tmp.copy(from: x)
            ropeForward(x: tmp.data, cos: cos.data, sin: sin.data, rows: n, heads: h, headDim: d)
            return weightedSum(tmp.data, dout)
        }
        let dx = Tensor(shape: x.shape, values: dout)
        ropeBackward(dx: dx.data, cos: cos.data, sin: sin.data, rows: n, heads: h, headDim: d)
        assertGradient("rope dx", x: x.data, count: x.count, analytic: dx.toArray(), objective: objective)
    }

    func testSwiGLU() {
        let count = 40
        let g = Tensor(shape: [count], values: randomArray(count, std: 2, rng: &rng))
        let u = Tensor(shape: [count], values: randomArray(count, rng: &rng))
        let dout = randomArray(count, rng: &rng)
        let out = Tensor(shape: [count])
        func objective() -> Double {
            swigluForward(out: out.data, gate: g.data, up: u.data, count: count)
            return weightedSum(out.data, dout)
        }
        let dg = Tensor(shape: [count]), du = Tensor(shape: [count])
        dout.withUnsafeBufferPointer { swigluBackward(dgate: dg.data, dup: du.data, dout: $0.baseAddress!, gate: g.data, up: u.data, count: count) }
        assertGradient("swiglu dgate", x: g.data, count: count, analytic: dg.toArray(), eps: 1e-3, objective: objective)
        assertGradient("swiglu dup", x: u.data, count: count, analytic: du.toArray(), eps: 1e-3, objective: objective)
    }

    func testResidual() {
        let count = 12
        let a = Tensor(shape: [count], values: randomArray(count, rng: &rng))
        let b = Tensor(shape: [count], values: randomArray(count, rng: &rng))
        let dout = randomArray(count, rng: &rng)
        let out = Tensor(shape: [count])
        func objective() -> Double {
            residualForward(out: out.data, a: a.data, b: b.data, count: count)
            return weightedSum(out.data, dout)
        }
        let da = Tensor(shape: [count]), db = Tensor(shape: [count])
        dout.withUnsafeBufferPointer { residualBackward(da: da.data, db: db.data, dout: $0.baseAddress!, count: count) }
        assertGradient("residual da", x: a.data, count: count, analytic: da.toArray(), objective: objective)
        assertGradient("residual db", x: b.data, count: count, analytic: db.toArray(), objective: objective)
    }

    func testCrossEntropyWithIgnoreIndex() {
        let n = 5, v = 7
        let logits = Tensor(shape: [n, v], values: randomArray(n * v, std: 2, rng: &rng))
        let targets: [Int32] = [3, ignoreIndex, 0, 6, ignoreIndex]
        let losses = Tensor(shape: [n])
        func objective() -> Double {
            targets.withUnsafeBufferPointer { Double(crossEntropyForward(losses: losses.data, logits: logits.data, targets: $0.baseAddress!, rows: n, vocab: v).loss) }
        }
        // Forward against a Double reference: mean over the 3 counted rows.
        var ref = 0.0
        for r in [0, 2, 3] {
            let z = (0..<v).map { Double(logits[r * v + $0]) }
            let m = z.max()!
            ref += log(z.map { exp($0 - m) }.reduce(0, +)) + m - z[Int(targets[r])]
        }
        XCTAssertEqual(objective(), ref / 3, accuracy: 1e-6)
        let dl = Tensor(shape: [n, v])
        targets.withUnsafeBufferPointer { crossEntropyBackward(dlogits: dl.data, logits: logits.data, targets: $0.baseAddress!, rows: n, vocab: v, dloss: 1, count: 3) }
        assertGradient("cross-entropy dlogits", x: logits.data, count: logits.count, analytic: dl.toArray(), eps: 1e-3, objective: objective)
        XCTAssertEqual(Array(dl.toArray()[v..<(2 * v)]), [Float](repeating: 0, count: v), "ignored row gets no gradient")
        // All rows ignored: loss 0 and no gradient (PyTorch gives NaN).
        let none = [Int32](repeating: ignoreIndex, count: n)
        let r = none.withUnsafeBufferPointer { crossEntropyForward(losses: losses.data, logits: logits.data, targets: $0.baseAddress!, rows: n, vocab: v) }
        XCTAssertEqual(r.loss, 0); XCTAssertEqual(r.count, 0)
    }
}
