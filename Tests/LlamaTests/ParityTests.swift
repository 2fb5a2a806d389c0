// Parity with transformers' LlamaForCausalLM: logits, loss, every gradient, and one AdamW step with
// clipping, on untied, tied and left-padded fixtures (scripts/reference/llama_fixture.py).

import Foundation
import Llama
import SafeTensors
import Tensors
import Training
import XCTest

final class ParityTests: XCTestCase {
    /// Prints measured errors when RLHF_PARITY_VERBOSE is set (for reports; the asserts do the checking).
    private func report(_ line: String) {
        if ProcessInfo.processInfo.environment["RLHF_PARITY_VERBOSE"] != nil { print("parity: " + line) }
    }

    func testUntied() throws { try check("untied") }
    func testTied() throws { try check("tied") }
    func testLeftPaddedBatch() throws { try check("padded") }

    private func check(_ name: String) throws {
        let c = try ParityCase(name)
        let model = try LlamaModel.load(directory: c.modelDirectory)
        let input = try c.input()
        try input.validate(for: model.config)
        let mask = input.attentionMask!

        // Loss (HF shifts labels inside) and logits on real tokens (pad queries are undefined in HF).
        let loss = model.loss(input: input, labels: try c.ints("labels"))
        XCTAssertEqual(Double(loss), c.double("loss"), accuracy: 1e-5, "\(name): loss")
        let logits = model.forward(input).logits!.toArray()
        let ref = try c.file.floats("logits")
        let v = model.config.vocabSize
        var worst: Float = 0
        for row in 0..<(c.batch * c.seqLen) where mask[row] == 1 {
            worst = max(worst, maxAbsDiff(Array(logits[(row * v)..<((row + 1) * v)]), Array(ref[(row * v)..<((row + 1) * v)])))
        }
        XCTAssertLessThanOrEqual(worst, 1e-4, "\(name): logits max abs diff")
        report("\(name) logits max abs diff \(worst), loss diff \(abs(Double(loss) - c.double("loss")))")

        // Every parameter's gradient.
        model.zeroGradients()
        _ = model.loss(input: input, labels: try c.ints("labels"))
        model.backwardLoss()
        XCTAssertEqual(model.parameters.count, c.file.names.filter { $0.hasPrefix("grad.") }.count, "\(name): parameter count")
        for p in model.parameters {
            let err = relativeError(p.grad.toArray(), try c.file.floats("grad." + p.name, shape: p.shape))
            XCTAssertLessThanOrEqual(err, 1e-3, "\(name): gradient of \(p.name)")
            report("\(name) grad \(p.name): relative error \(err)")
        }

        // One AdamW step after clipping, from our gradients. Adam's first step moves each weight by about
        // lr * g / (|g| + eps): where |g| is near eps (1e-8) the update is ill-conditioned, and a
        // gradient difference at Float32 rounding level moves it by up to lr * eps * |dg| / (|g| + eps)^2.
        // Every weight must be within 1e-6 plus that first-order bound (which is < 1e-8 wherever |g| >=
        // 1e-6); `testAdamWStepFromTorchGradients` checks the optimiser alone to a flat 1e-6.
        let hp = c.hyperparameters
        let opt = AdamW(parameters: model.parameters, hyperparameters: hp)
        let norm = clipGradientNorm(model.parameters, maxNorm: Float(c.double("max_norm")))
        XCTAssertEqual(Double(norm), c.double("grad_norm"), accuracy: 1e-4 * c.double("grad_norm"), "\(name): grad_norm")
        let torchScale = min(1, c.double("max_norm") / (c.double("grad_norm") + 1e-6))
        let ours = model.parameters.map { $0.grad.toArray() }
        opt.step()
        var illConditioned = 0
        for (pi, p) in model.parameters.enumerated() {
            let w = p.value.toArray(), ref = try c.file.floats("step." + p.name), gt = try c.file.floats("grad." + p.name)
            var worstExcess = 0.0
            for i in 0..<p.count {
                let a = Double(ours[pi][i]), b = Double(gt[i]) * torchScale, e = Double(hp.eps)
                let bound = 1e-6 + 1.1 * Double(hp.lr) * e * abs(a - b) / pow(min(abs(a), abs(b)) + e, 2)
                if bound > 2e-6 { illConditioned += 1 }
                worstExcess = max(worstExcess, abs(Double(w[i]) - Double(ref[i])) - bound)
            }
            XCTAssertLessThanOrEqual(worstExcess, 0, "\(name): weight after step \(p.name) beyond 1e-6 + conditioning bound")
            report("\(name) step \(p.name): max |dw| \(maxAbsDiff(w, ref))")
        }
        XCTAssertLessThanOrEqual(illConditioned, 8, "\(name): only a handful of elements may have |g| near eps")
    }

    /// The optimiser alone: PyTorch's gradients in, PyTorch's weights out (clip + AdamW, to 1e-6).
    func testAdamWStepFromTorchGradients() throws {
        for name in ["untied", "tied"] {
            let c = try ParityCase(name)
            let model = try LlamaModel.load(directory: c.modelDirectory)
            for p in model.parameters { p.grad.copy(from: try c.file.floats("grad." + p.name)) }
            let norm = clipGradientNorm(model.parameters, maxNorm: Float(c.double("max_norm")))
            XCTAssertEqual(Double(norm), c.double("grad_norm"), accuracy: 1e-6 * c.double("grad_norm"))
            AdamW(parameters: model.parameters, hyperparameters: c.hyperparameters).step()
            for p in model.parameters {
                XCTAssertLessThanOrEqual(maxAbsDiff(p.value.toArray(), try c.file.floats("step." + p.name)), 1e-6, "\(name): \(p.name)")
            }
        }
    }
}
