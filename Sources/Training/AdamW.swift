// AdamW with PyTorch's semantics (torch.optim.AdamW, single-tensor path) over a list of Parameters.

import Foundation
import SafeTensors
import Tensors

// MARK: - Errors

/// Errors restoring optimiser state.
public enum OptimizerStateError: Error, CustomStringConvertible, Equatable {
    /// The saved state does not match the parameters (what differs, naming the tensor or key).
    case mismatch(String)

    public var description: String {
        switch self {
        case let .mismatch(what): return "optimizer state does not match the model: \(what). Resume with the same model config and trainable parameters."
        }
    }
}

// MARK: - AdamW

/// AdamW: Adam with decoupled weight decay, exactly as `torch.optim.AdamW` (amsgrad off, maximize off):
///
///     θ ← θ (1 - lr·λ)                    (only for parameters with `weightDecay`)
///     m ← β1 m + (1 - β1) g,  v ← β2 v + (1 - β2) g²
///     θ ← θ - (lr / (1 - β1^t)) · m / (sqrt(v) / sqrt(1 - β2^t) + eps)
///
/// Which parameters decay is each `Parameter.weightDecay` flag; the model sets it to true for linear
/// weights (attention, MLP, untied `lm_head`) and false for RMSNorm weights and the token embedding
/// (which is also the output matrix when tied), the usual practice (nanoGPT, HF `get_parameter_names`
/// without LayerNorm, plus embeddings). Parameters with `requiresGrad == false` are never touched.
///
/// Threading: not thread-safe; call `step()` after backward finished.
/// - Source: Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization", Algorithm 2;
///   PyTorch `torch/optim/adamw.py` (`_single_tensor_adamw`).
public final class AdamW {
    /// Hyper-parameters (PyTorch's names and defaults).
    public struct Hyperparameters: Codable, Equatable, Sendable {
        /// Learning rate (the schedule sets it before each step). PyTorch default 1e-3.
        public var lr: Float
        /// β1, default 0.9.
        public var beta1: Float
        /// β2, default 0.999.
        public var beta2: Float
        /// ε added to the denominator, default 1e-8.
        public var eps: Float
        /// Decoupled weight decay λ (multiplied by lr), default 0.01.
        public var weightDecay: Float

        /// PyTorch's defaults unless given.
        public init(lr: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8, weightDecay: Float = 0.01) {
            self.lr = lr; self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
        }

        enum CodingKeys: String, CodingKey {
            case lr, beta1, beta2, eps
            case weightDecay = "weight_decay"
        }
    }

    /// Complete optimiser state for exact resume (Codable; moments by parameter name).
    public struct State: Codable, Equatable, Sendable {
        /// Steps taken so far (PyTorch's `state['step']`).
        public var step: Int
        /// Hyper-parameters at save time.
        public var hyperparameters: Hyperparameters
        /// First moments by parameter name.
        public var expAvg: [String: [Float]]
        /// Second moments by parameter name.
        public var expAvgSq: [String: [Float]]
    }

    /// Hyper-parameters; `hyperparameters.lr` may be changed between steps (LR schedule).
    public var hyperparameters: Hyperparameters
    /// Steps taken so far (bias correction uses `step` after incrementing).
    public private(set) var step: Int = 0
    /// The parameters this optimiser updates (those with `requiresGrad`), in the given order.
    public let parameters: [Parameter]
    private let expAvg: [Tensor]
    private let expAvgSq: [Tensor]

    /// Creates the optimiser with zero moments.
    /// - Parameters:
    ///   - parameters: the model's parameters; frozen ones (`requiresGrad == false`) are dropped.
    ///   - hyperparameters: lr, betas, eps, weight decay.
    public init(parameters: [Parameter], hyperparameters: Hyperparameters = .init()) {
        self.parameters = parameters.filter(\.requiresGrad)
        self.hyperparameters = hyperparameters
        expAvg = self.parameters.map { Tensor(shape: $0.shape) }
        expAvgSq = self.parameters.map { Tensor(shape: $0.shape) }
    }

    /// Applies one update to every parameter from its `grad` (side effect: mutates weights and moments,
    /// increments `step`; does not zero the gradients).
    public func step(lr: Float? = nil) {
        if let lr { hyperparameters.lr = lr }
        step += 1
        let h = hyperparameters
        let t = Double(step)
        let bc1 = 1 - pow(Double(h.beta1), t)
        let bc2Sqrt = (1 - pow(Double(h.beta2), t)).squareRoot()
        let stepSize = Float(Double(h.lr) / bc1)
        let decay = Float(1 - Double(h.lr) * Double(h.weightDecay))
        let b1 = h.beta1, oneMinusB1 = Float(1 - Double(h.beta1)), b2 = h.beta2, oneMinusB2 = Float(1 - Double(h.beta2))
        let denomScale = Float(bc2Sqrt), eps = h.eps
        let lerpLow = oneMinusB1 < 0.5
        let tensors = parameters.enumerated().map { i, p in
            (w: p.value.data, g: UnsafePointer(p.grad.data), m: expAvg[i].data, v: expAvgSq[i].data, n: p.count,
             decays: p.weightDecay && h.weightDecay != 0)
        }
        // Elementwise and independent: one region over the compute threads, worker `s` updating the s-th
        // share of every parameter, 16 lanes at a time; each lane does exactly the scalar tail's
        // operations in the same order (bit-identical to it, so the split never changes a result).
        parallelShares(work: tensors.reduce(0) { $0 + $1.n }, minPerThread: 32_768) { share, shares in
            for (w, g, m, v, n, decays) in tensors {
                let size = (n + shares - 1) / shares
                let lo = min(n, share * size), hi = min(n, lo + size)
                var j = lo
                while j + 16 <= hi {
                    let gj: SIMD16<Float> = loadLanes(g + j)
                    var mj: SIMD16<Float> = loadLanes(m + j)
                    var vj: SIMD16<Float> = loadLanes(v + j)
                    var wj: SIMD16<Float> = loadLanes(w + j)
                    if decays { wj = wj * decay }
                    let diff: SIMD16<Float> = gj - mj
                    if lerpLow { mj = mj + diff * oneMinusB1 } else { mj = gj - diff * b1 }
                    let g2: SIMD16<Float> = gj * oneMinusB2 * gj
                    vj = vj * b2 + g2
                    let root: SIMD16<Float> = vj.squareRoot()
                    let denom: SIMD16<Float> = root / denomScale + eps
                    let ratio: SIMD16<Float> = mj / denom
                    wj = wj - ratio * stepSize
                    storeLanes(mj, m + j); storeLanes(vj, v + j); storeLanes(wj, w + j)
                    j += 16
                }
                while j < hi {
                    if decays { w[j] *= decay }
                    let gj = g[j]
                    // torch lerp_(g, 1 - β1) with weight < 0.5: m + w·(g - m)
                    m[j] = lerpLow ? m[j] + oneMinusB1 * (gj - m[j]) : gj - (gj - m[j]) * b1
                    v[j] = v[j] * b2 + oneMinusB2 * gj * gj
                    let denom = v[j].squareRoot() / denomScale + eps
                    w[j] -= stepSize * (m[j] / denom)
                    j += 1
                }
            }
        }
    }

    // MARK: State

    /// A copy of the complete state (moments, step, hyper-parameters).
    public func state() -> State {
        var ea: [String: [Float]] = [:], es: [String: [Float]] = [:]
        for (i, p) in parameters.enumerated() {
            ea[p.name] = expAvg[i].toArray()
            es[p.name] = expAvgSq[i].toArray()
        }
        return State(step: step, hyperparameters: hyperparameters, expAvg: ea, expAvgSq: es)
    }

    /// Restores a state taken by `state()` (side effect: overwrites moments, step, hyper-parameters).
    /// - Throws: `OptimizerStateError.mismatch` naming the parameter whose moments are missing or of the
    ///   wrong size; nothing is changed then.
    public func restore(_ s: State) throws {
        for p in parameters {
            guard let a = s.expAvg[p.name], let b = s.expAvgSq[p.name] else { throw OptimizerStateError.mismatch("no moments for '\(p.name)'") }
            guard a.count == p.count, b.count == p.count else {
                throw OptimizerStateError.mismatch("moments of '\(p.name)' have \(a.count) elements, the parameter has \(p.count)")
            }
        }
        if s.expAvg.count != parameters.count {
            throw OptimizerStateError.mismatch("state has moments for \(s.expAvg.count) parameters, the optimizer has \(parameters.count)")
        }
        for (i, p) in parameters.enumerated() {
            expAvg[i].copy(from: s.expAvg[p.name]!)
            expAvgSq[i].copy(from: s.expAvgSq[p.name]!)
        }
        step = s.step
        hyperparameters = s.hyperparameters
    }

    /// Writes the state as safetensors (atomic): tensors `exp_avg.<name>` and `exp_avg_sq.<name>` (F32,
    /// bit-exact), metadata `step`, `lr`, `beta1`, `beta2`, `eps`, `weight_decay` and `format: pt`.
    /// - Throws: `SafeTensorsError.writeFailed` when the file cannot be written.
    public func save(to url: URL) throws {
        let h = hyperparameters
        var w = SafeTensorsWriter(metadata: ["format": "pt", "step": String(step), "lr": "\(h.lr)", "beta1": "\(h.beta1)",
                                             "beta2": "\(h.beta2)", "eps": "\(h.eps)", "weight_decay": "\(h.weightDecay)"])
        for (i, p) in parameters.enumerated() {
            try w.add("exp_avg." + p.name, shape: p.shape, floats: UnsafeBufferPointer(start: expAvg[i].data, count: p.count))
            try w.add("exp_avg_sq." + p.name, shape: p.shape, floats: UnsafeBufferPointer(start: expAvgSq[i].data, count: p.count))
        }
        try w.write(to: url)
    }

    /// Reads a state written by `save(to:)` (side effect: overwrites moments, step, hyper-parameters).
    /// - Throws: `SafeTensorsError` (truncated file, missing tensor, wrong shape) naming the tensor;
    ///   `OptimizerStateError.mismatch` naming a missing or unreadable metadata key.
    public func load(from url: URL) throws {
        let f = try SafeTensorsFile.read(contentsOf: url)
        func meta(_ key: String) throws -> String {
            guard let v = f.metadata[key] else { throw OptimizerStateError.mismatch("metadata key '\(key)' missing in \(url.path)") }
            return v
        }
        func float(_ key: String) throws -> Float {
            guard let v = Float(try meta(key)) else { throw OptimizerStateError.mismatch("metadata key '\(key)' is not a number in \(url.path)") }
            return v
        }
        guard let step = Int(try meta("step")) else { throw OptimizerStateError.mismatch("metadata key 'step' is not an integer in \(url.path)") }
        let h = Hyperparameters(lr: try float("lr"), beta1: try float("beta1"), beta2: try float("beta2"), eps: try float("eps"),
                                weightDecay: try float("weight_decay"))
        var ea: [String: [Float]] = [:], es: [String: [Float]] = [:]
        for p in parameters {
            ea[p.name] = try f.floats("exp_avg." + p.name, shape: p.shape)
            es[p.name] = try f.floats("exp_avg_sq." + p.name, shape: p.shape)
        }
        let stored = f.names.filter { $0.hasPrefix("exp_avg.") }.count
        if stored != parameters.count {
            throw OptimizerStateError.mismatch("\(url.path) holds moments for \(stored) parameters, the optimizer has \(parameters.count)")
        }
        try restore(State(step: step, hyperparameters: h, expAvg: ea, expAvgSq: es))
    }
}

// MARK: - Lanes

@inline(__always)
func loadLanes(_ p: UnsafePointer<Float>) -> SIMD16<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self) }

@inline(__always)
func storeLanes(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self) }
