// Reading the PyTorch/transformers fixtures written by scripts/reference/llama_fixture.py.

import Foundation
import Llama
import SafeTensors
import Tensors
import XCTest

/// The fixtures directory copied into the test bundle.
func fixturesURL() throws -> URL {
    guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
        throw XCTSkip("Fixtures missing from the test bundle")
    }
    return url
}

/// One parity case: the inputs, PyTorch's outputs and the hyper-parameters of its AdamW step.
struct ParityCase {
    let file: SafeTensorsFile
    let meta: [String: Any]
    let modelDirectory: URL
    let batch: Int
    let seqLen: Int

    init(_ name: String) throws {
        let dir = try fixturesURL()
        file = try SafeTensorsFile.read(contentsOf: dir.appendingPathComponent(name + ".safetensors"))
        let data = try Data(contentsOf: dir.appendingPathComponent(name + ".json"))
        meta = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        modelDirectory = dir.appendingPathComponent(meta["model"] as! String)
        batch = meta["batch"] as! Int
        seqLen = meta["seq_len"] as! Int
    }

    func double(_ key: String) -> Double { (meta[key] as! NSNumber).doubleValue }
    func ints(_ name: String) throws -> [Int32] { try file.floats(name).map { Int32($0) } }

    func input() throws -> LlamaInput {
        LlamaInput(tokens: try ints("input_ids"), batch: batch, seqLen: seqLen, positionIds: try ints("position_ids"),
                   attentionMask: try file.floats("attention_mask").map { UInt8($0) })
    }

    var hyperparameters: AdamWHyper {
        AdamWHyper(lr: Float(double("lr")), beta1: Float(double("beta1")), beta2: Float(double("beta2")),
                   eps: Float(double("eps")), weightDecay: Float(double("weight_decay")))
    }
}

import Training
typealias AdamWHyper = AdamW.Hyperparameters

/// `||a - b|| / ||b||` in Double.
func relativeError(_ a: [Float], _ b: [Float]) -> Double {
    var d = 0.0, r = 0.0
    for i in 0..<a.count { d += Double(a[i] - b[i]) * Double(a[i] - b[i]); r += Double(b[i]) * Double(b[i]) }
    return d.squareRoot() / max(r.squareRoot(), 1e-30)
}

/// `max |a - b|`.
func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).map { abs($0 - $1) }.max() ?? 0
}
