// The vectorised and threaded kernel paths (16-lane loops and their tails, row and element splits over
// two threads, causal query blocks of 64 rows) against Double references, at sizes that reach them.

@testable import Tensors
import XCTest

final class VectorisedKernelTests: XCTestCase {
    var rng = Xoshiro256(seed: 11)
    private var savedThreads = 1

    override func setUp() {
        savedThreads = BLAS.threads
        BLAS.setThreads(2)  // exercise the two-thread split even on a one-core runner
    }

    override func tearDown() { BLAS.setThreads(savedThreads) }

    func testVectorExpMatchesDoubleExp() {
        var worst = 0.0
        var x: Float = -87
        while x < 88 {
            let xs = SIMD16<Float>((0..<16).map { x + Float($0) * 0.0037 })
            let e = vexp(xs)
            for l in 0..<16 {
                let ref = exp(Double(xs[l]))
                worst = max(worst, abs(Double(e[l]) - ref) / ref)
            }
            x += 0.0611
        }
        XCTAssertLessThanOrEqual(worst, 3e-7, "vexp relative error")
        let edge = vexp(SIMD16<Float>(repeating: -200))
        XCTAssertGreaterThanOrEqual(edge[0], 0)
        XCTAssertLessThan(edge[0], 1e-37)
        XCTAssertEqual(vexp(SIMD16<Float>(repeating: 200))[3], .infinity)
        XCTAssertEqual(vexp(SIMD16<Float>(repeating: 0))[5], 1)
    }

    func testLongCausalAttentionMatchesDoubleReference() {
        // T = 150: query blocks of 64, 64 and 22 rows; GQA 4 heads on 2 kv heads; row 1 left-padded by 3.
        let b = 2, t = 150, h = 4, g = 2, d = 8
        var mask = [UInt8](repeating: 1, count: b * t)
        for j in 0..<3 { mask[t + j] = 0 }
        let shape = AttentionShape(batch: b, queryLength: t, keyLength: t, heads: h, kvHeads: g, headDim: d)
        let q = randomArray(b * t * h * d, rng: &rng), k = randomArray(b * t * g * d, rng: &rng), v = randomArray(b * t * g * d, rng: &rng)
        let dout = randomArray(b * t * h * d, rng: &rng)
        let out = Tensor(shape: [b * t, h * d]), probs = Tensor(shape: [b, h, t, t])
        probs.fill(7)  // stale values must be overwritten
        let dq = Tensor(shape: [b * t, h * d]), dk = Tensor(shape: [b * t, g * d]), dv = Tensor(shape: [b * t, g * d])
        dq.fill(0.5); dk.fill(0.5); dv.fill(0.5)  // backward accumulates
        let scratch = Tensor(shape: [t, t])
        q.withUnsafeBufferPointer { qp in k.withUnsafeBufferPointer { kp in v.withUnsafeBufferPointer { vp in
            mask.withUnsafeBufferPointer { mp in dout.withUnsafeBufferPointer { dp in
                attentionForward(out: out.data, probs: probs.data, q: qp.baseAddress!, k: kp.baseAddress!, v: vp.baseAddress!,
                                 keyMask: mp.baseAddress, shape: shape)
                attentionBackward(dq: dq.data, dk: dk.data, dv: dv.data, scratch: scratch.data, dout: dp.baseAddress!, probs: probs.data,
                                  q: qp.baseAddress!, k: kp.baseAddress!, v: vp.baseAddress!, shape: shape)
            } }
        } } }
        // Double reference: P = softmax(mask(q k^T / sqrt(D))), out = P v; dP = dout v^T,
        // dS = P (dP - rowsum(P dP)), dq = dS k / sqrt(D), dk = dS^T q / sqrt(D), dv = P^T dout.
        let sc = 1 / Double(d).squareRoot()
        var rdq = [Double](repeating: 0.5, count: dq.count), rdk = [Double](repeating: 0.5, count: dk.count), rdv = rdk
        var worstOut = 0.0, worstP = 0.0
        for bi in 0..<b { for hi in 0..<h {
            let kvh = hi / (h / g)
            func qi(_ i: Int, _ c: Int) -> Int { (bi * t + i) * h * d + hi * d + c }
            func ki(_ j: Int, _ c: Int) -> Int { (bi * t + j) * g * d + kvh * d + c }
            for i in 0..<t {
                var p = [Double](repeating: 0, count: t)
                let vis = (0...i).filter { mask[bi * t + $0] != 0 }
                if !vis.isEmpty {
                    var s = [Double](repeating: 0, count: t)
                    for j in vis { for c in 0..<d { s[j] += Double(q[qi(i, c)]) * Double(k[ki(j, c)]) }; s[j] *= sc }
                    let m = vis.map { s[$0] }.max()!
                    var z = 0.0
                    for j in vis { p[j] = exp(s[j] - m); z += p[j] }
                    for j in vis { p[j] /= z }
                }
                for j in 0..<t { worstP = max(worstP, abs(Double(probs[((bi * h + hi) * t + i) * t + j]) - p[j])) }
                var dp = [Double](repeating: 0, count: t)
                for c in 0..<d {
                    var o = 0.0
                    for j in 0..<t where p[j] != 0 { o += p[j] * Double(v[ki(j, c)]) }
                    worstOut = max(worstOut, abs(Double(out[qi(i, c)]) - o))
                }
                for j in 0..<t where p[j] != 0 { for c in 0..<d { dp[j] += Double(dout[qi(i, c)]) * Double(v[ki(j, c)]) } }
                let dot = (0..<t).reduce(0.0) { $0 + p[$1] * dp[$1] }
                for j in 0..<t where p[j] != 0 {
                    let ds = p[j] * (dp[j] - dot)
                    for c in 0..<d {
                        rdq[qi(i, c)] += ds * sc * Double(k[ki(j, c)])
                        rdk[ki(j, c)] += ds * sc * Double(q[qi(i, c)])
                        rdv[ki(j, c)] += p[j] * Double(dout[qi(i, c)])
                    }
                }
            }
        } }
        XCTAssertLessThanOrEqual(worstP, 1e-6, "probabilities")
        XCTAssertLessThanOrEqual(worstOut, 1e-5, "output")
        for (name, got, ref) in [("dq", dq, rdq), ("dk", dk, rdk), ("dv", dv, rdv)] {
            var worst = 0.0
            for i in 0..<ref.count { worst = max(worst, abs(Double(got[i]) - ref[i])) }
            XCTAssertLessThanOrEqual(worst, 1e-4, name)
        }
    }

    func testCrossEntropyRowsMatchDoubleReference() {
        for keepLogSumExp in [false, true] { checkCrossEntropyRows(keepLogSumExp: keepLogSumExp) }
    }

    /// Forward and backward against Double; `keepLogSumExp` passes forward's normalisers to backward.
    private func checkCrossEntropyRows(keepLogSumExp: Bool) {
        let rows = 37, vocab = 1001  // 62 full vectors and a tail of 9; rows split over two threads
        let logits = randomArray(rows * vocab, std: 3, rng: &rng)
        var targets = (0..<rows).map { Int32($0 * 53 % vocab) }
        targets[4] = ignoreIndex
        var losses = [Float](repeating: 9, count: rows)
        var dlogits = [Float](repeating: 0.25, count: rows * vocab)
        let lse = Tensor(shape: [rows])
        let lsePointer = keepLogSumExp ? lse.data : nil
        let (loss, count) = logits.withUnsafeBufferPointer { lp in targets.withUnsafeBufferPointer { tp in
            let r = losses.withUnsafeMutableBufferPointer {
                crossEntropyForward(losses: $0.baseAddress!, logSumExp: lsePointer, logits: lp.baseAddress!, targets: tp.baseAddress!,
                                    rows: rows, vocab: vocab)
            }
            dlogits.withUnsafeMutableBufferPointer {
                crossEntropyBackward(dlogits: $0.baseAddress!, logits: lp.baseAddress!, targets: tp.baseAddress!, rows: rows, vocab: vocab,
                                     dloss: 2, count: r.count, logSumExp: lsePointer.map { UnsafePointer($0) })
            }
            return r
        } }
        XCTAssertEqual(count, rows - 1)
        var total = 0.0
        for n in 0..<rows {
            let z = (0..<vocab).map { Double(logits[n * vocab + $0]) }
            let m = z.max()!, s = z.reduce(0) { $0 + exp($1 - m) }
            if targets[n] == ignoreIndex {
                XCTAssertEqual(losses[n], 0)
                for v in 0..<vocab { XCTAssertEqual(dlogits[n * vocab + v], 0.25) }
                continue
            }
            let ref = log(s) + m - z[Int(targets[n])]
            total += ref
            XCTAssertEqual(Double(losses[n]), ref, accuracy: 1e-5 * max(1, abs(ref)), "row \(n)")
            for v in 0..<vocab {
                let g = 2 / Double(count) * (exp(z[v] - m) / s - (v == Int(targets[n]) ? 1 : 0)) + 0.25
                XCTAssertEqual(Double(dlogits[n * vocab + v]), g, accuracy: 1e-7, "row \(n) v \(v)")
            }
        }
        XCTAssertEqual(Double(loss), total / Double(count), accuracy: 1e-5)
    }

    func testSwiGLUAndRMSNormMatchDoubleReference() {
        // SwiGLU over 70,001 elements (two 35,000-element halves, each with a tail).
        let count = 70_001
        let gate = randomArray(count, std: 4, rng: &rng), up = randomArray(count, rng: &rng), dy = randomArray(count, rng: &rng)
        let out = Tensor(shape: [count]), dgate = Tensor(shape: [count]), dup = Tensor(shape: [count])
        dgate.fill(1); dup.fill(-1)
        gate.withUnsafeBufferPointer { gp in up.withUnsafeBufferPointer { upp in dy.withUnsafeBufferPointer { dp in
            swigluForward(out: out.data, gate: gp.baseAddress!, up: upp.baseAddress!, count: count)
            swigluBackward(dgate: dgate.data, dup: dup.data, dout: dp.baseAddress!, gate: gp.baseAddress!, up: upp.baseAddress!, count: count)
        } } }
        for i in 0..<count {
            let g = Double(gate[i]), s = 1 / (1 + exp(-g))
            XCTAssertEqual(Double(out[i]), g * s * Double(up[i]), accuracy: 1e-5 * max(1, abs(g * Double(up[i]))), "out \(i)")
            let rg = 1 + Double(dy[i]) * Double(up[i]) * s * (1 + g * (1 - s)), ru = -1 + Double(dy[i]) * g * s
            XCTAssertEqual(Double(dgate[i]), rg, accuracy: 1e-5 * max(1, abs(rg)), "dgate \(i)")
            XCTAssertEqual(Double(dup[i]), ru, accuracy: 1e-5 * max(1, abs(ru)), "dup \(i)")
        }
        // RMSNorm: 300 rows of 100 channels (6 vectors and a tail of 4).
        let rows = 300, ch = 100
        let x = randomArray(rows * ch, rng: &rng), w = randomArray(ch, rng: &rng), gy = randomArray(rows * ch, rng: &rng)
        let y = Tensor(shape: [rows, ch]), rstd = Tensor(shape: [rows]), dx = Tensor(shape: [rows, ch]), dw = Tensor(shape: [ch])
        dx.fill(0.5); dw.fill(0.5)
        x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in gy.withUnsafeBufferPointer { gp in
            rmsNormForward(out: y.data, rstd: rstd.data, inp: xp.baseAddress!, weight: wp.baseAddress!, rows: rows, channels: ch, eps: 1e-5)
            rmsNormBackward(dinp: dx.data, dweight: dw.data, dout: gp.baseAddress!, inp: xp.baseAddress!, weight: wp.baseAddress!,
                            rstd: rstd.data, rows: rows, channels: ch)
        } } }
        var rdw = [Double](repeating: 0.5, count: ch)
        for n in 0..<rows {
            let xr = (0..<ch).map { Double(x[n * ch + $0]) }
            let r = 1 / (xr.reduce(0) { $0 + $1 * $1 } / Double(ch) + 1e-5).squareRoot()
            XCTAssertEqual(Double(rstd[n]), r, accuracy: 1e-6 * r)
            var dot = 0.0
            for c in 0..<ch { dot += Double(w[c]) * Double(gy[n * ch + c]) * xr[c] }
            for c in 0..<ch {
                XCTAssertEqual(Double(y[n * ch + c]), Double(w[c]) * xr[c] * r, accuracy: 1e-5, "y \(n),\(c)")
                let ref = 0.5 + r * Double(w[c]) * Double(gy[n * ch + c]) - r * r * r * dot / Double(ch) * xr[c]
                XCTAssertEqual(Double(dx[n * ch + c]), ref, accuracy: 1e-5, "dx \(n),\(c)")
                rdw[c] += Double(gy[n * ch + c]) * xr[c] * r
            }
        }
        for c in 0..<ch { XCTAssertEqual(Double(dw[c]), rdw[c], accuracy: 1e-4, "dweight \(c)") }
    }
}
