// LoRA adapters with PEFT semantics: `y = W x + scaling · B A dropout(x)`, A `[r, in]`, B `[out, r]`,
// scaling = lora_alpha / r (or lora_alpha / sqrt(r) with rsLoRA).
//
// Legend: N rows (B*T tokens), I in_features, O out_features, R rank r.

import Foundation
import Tensors

// MARK: - Configuration

/// LoRA hyper-parameters, named as PEFT's `LoraConfig` (camelCase) and saved as its `adapter_config.json`.
/// - Source: Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models", section 4.1;
///   Kalajdzievski 2023, "A Rank Stabilization Scaling Factor for Fine-Tuning with LoRA" (rsLoRA);
///   PEFT `tuners/lora/config.py` and `layer.py`.
public struct LoRAConfig: Sendable, Equatable, Codable {
    /// Rank r (`r`), default 16 (PEFT's default is 8; issue 8 asks for 16).
    public var r: Int
    /// `lora_alpha`, default 32 (PEFT: 8).
    public var loraAlpha: Float
    /// Dropout probability on the adapter's input in training mode (`lora_dropout`), default 0.1 (PEFT: 0).
    public var loraDropout: Float
    /// Module names that get an adapter (`target_modules`), default `q_proj` and `v_proj`.
    public var targetModules: [String]
    /// rsLoRA scaling `lora_alpha / sqrt(r)` instead of `lora_alpha / r` (`use_rslora`).
    public var useRslora: Bool

    /// - Parameters: see the properties.
    public init(r: Int = 16, loraAlpha: Float = 32, loraDropout: Float = 0.1, targetModules: [String] = ["q_proj", "v_proj"],
                useRslora: Bool = false) {
        self.r = r
        self.loraAlpha = loraAlpha
        self.loraDropout = loraDropout
        self.targetModules = targetModules
        self.useRslora = useRslora
    }

    /// The factor of `B A x`: `lora_alpha / r`, or `lora_alpha / sqrt(r)` with rsLoRA.
    public var scaling: Float { useRslora ? loraAlpha / Float(r).squareRoot() : loraAlpha / Float(r) }

    /// The module names LoRA can target in a Llama decoder layer.
    public static let knownModules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

    /// Checks the ranges and module names.
    /// - Throws: `LlamaError.invalidInput` naming the field (r < 1, a non-positive alpha, dropout outside
    ///   [0, 1), no or unknown target modules).
    public func validate() throws {
        guard r >= 1 else { throw LlamaError.invalidInput("LoRA r \(r) must be >= 1") }
        guard loraAlpha.isFinite, loraAlpha > 0 else { throw LlamaError.invalidInput("LoRA lora_alpha \(loraAlpha) must be > 0") }
        guard loraDropout >= 0, loraDropout < 1 else {
            throw LlamaError.invalidInput("LoRA lora_dropout \(loraDropout) must be in [0, 1)")
        }
        guard !targetModules.isEmpty else { throw LlamaError.invalidInput("LoRA target_modules is empty; e.g. [\"q_proj\", \"v_proj\"]") }
        for m in targetModules where !Self.knownModules.contains(m) {
            throw LlamaError.invalidInput("LoRA target module '\(m)' is not a Llama linear layer; use one of \(Self.knownModules)")
        }
    }
}

// MARK: - Adapter

/// One LoRA adapter on a linear layer: adds `scaling · B A dropout(x)` to its output.
///
/// Training mode (`isTraining`) applies inverted dropout to the adapter's input with the adapter's own
/// seeded generator (`rng`, Codable so a trainer can save it); inference mode never drops. `forward`
/// caches `A dropout(x)` (and the dropout mask) for `backward`, growing its buffers only when a call has
/// more rows than any before.
public final class LoRAAdapter: LinearAdapter {
    /// `...lora_A.weight` `[R, I]` (trainable; decayed by AdamW like any linear weight, as
    /// `torch.optim.AdamW(model.parameters())` does with PEFT).
    public let loraA: Parameter
    /// `...lora_B.weight` `[O, R]`, zero at creation so the adapted model starts equal to the base.
    public let loraB: Parameter
    /// The config this adapter was created with.
    public let config: LoRAConfig
    /// The rank R.
    public let rank: Int
    /// I.
    public let inFeatures: Int
    /// O.
    public let outFeatures: Int
    /// The factor of `B A x`.
    public let scaling: Float
    /// Dropout probability in training mode.
    public let dropout: Float
    /// When false the layer behaves as the base layer (forward and backward).
    public var isEnabled = true
    /// When true, forward applies dropout (training); false: inference.
    public var isTraining = false
    /// The dropout generator (advanced only by training-mode forwards with dropout > 0).
    public var rng: Xoshiro256

    private var hidden = Tensor(shape: [0])     // [N, R]  A · dropout(x)
    private var dropped = Tensor(shape: [0])    // [N, I]  dropout(x) (training with dropout only)
    private var keepMask = Tensor(shape: [0])   // [N, I]  0 where dropped, 1/(1-p) where kept
    private var dx = Tensor(shape: [0])         // [N, I]  backward workspace (dropout only)
    private var dh = Tensor(shape: [0])         // [N, R]  backward workspace
    private var lastRows = 0
    private var lastDropped = false

    /// Creates an adapter named `prefix + ".lora_A.weight"` / `".lora_B.weight"`, A drawn as PEFT does
    /// (`kaiming_uniform_(a = sqrt(5))`, i.e. uniform in ±1/sqrt(I)) and B = 0.
    /// - Parameters:
    ///   - prefix: the module's PEFT name, e.g. `base_model.model.model.layers.0.self_attn.q_proj`.
    ///   - inFeatures, outFeatures: the base layer's sizes; config: r, alpha, dropout, rsLoRA.
    ///   - rng: generator for A's initialisation (advanced); the adapter's dropout generator is split from it.
    public init(prefix: String, inFeatures: Int, outFeatures: Int, config: LoRAConfig, rng: inout Xoshiro256) {
        self.config = config
        rank = config.r
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        scaling = config.scaling
        dropout = config.loraDropout
        loraA = Parameter(name: prefix + ".lora_A.weight", shape: [config.r, inFeatures], weightDecay: true)
        loraB = Parameter(name: prefix + ".lora_B.weight", shape: [outFeatures, config.r], weightDecay: true)
        let bound = 1 / Double(inFeatures).squareRoot()
        for i in 0..<loraA.count { loraA.value[i] = Float((rng.nextDouble() * 2 - 1) * bound) }
        self.rng = Xoshiro256(seed: rng.next())
    }

    /// `[lora_A, lora_B]`.
    public var parameters: [Parameter] { [loraA, loraB] }

    /// `out[N, O] += scaling · (dropout(inp)[N, I] · A^T) · B^T`; caches what backward needs.
    public func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, rows n: Int) {
        let r = rank, i = inFeatures
        if hidden.count < n * r { hidden = Tensor(shape: [n * r]); dh = Tensor(shape: [n * r]) }
        var x = inp
        lastDropped = isTraining && dropout > 0
        if lastDropped {
            if dropped.count < n * i { dropped = Tensor(shape: [n * i]); keepMask = Tensor(shape: [n * i]) }
            let keep = 1 / (1 - dropout), p = Double(dropout), d = dropped.data, mk = keepMask.data
            for j in 0..<(n * i) {
                mk[j] = rng.nextDouble() < p ? 0 : keep
                d[j] = inp[j] * mk[j]
            }
            x = UnsafePointer(d)
        }
        lastRows = n
        // hidden[N, R] = x · A^T ; out += scaling · hidden · B^T
        matmulTransposed(out: hidden.data, inp: x, weight: loraA.value.data, rows: n, inFeatures: i, outFeatures: r)
        sgemm(transA: false, transB: true, m: n, n: outFeatures, k: r, alpha: scaling, a: hidden.data, lda: r,
              b: loraB.value.data, ldb: r, beta: 1, c: out, ldc: outFeatures)
    }

    /// Backward of `forward` (same `inp` and rows): `dB += scaling · dout^T · h`, `dA += dh^T · x`,
    /// `dinp += mask ⊙ (dh · A)` with `dh = scaling · dout · B` (frozen A or B get no gradient).
    public func backward(dinp: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, rows n: Int) {
        precondition(n == lastRows, "LoRAAdapter.backward: \(n) rows, forward had \(lastRows)")
        let r = rank, i = inFeatures, o = outFeatures
        let x = lastDropped ? UnsafePointer(dropped.data) : inp
        if loraB.requiresGrad {
            sgemm(transA: true, transB: false, m: o, n: r, k: n, alpha: scaling, a: dout, lda: o,
                  b: hidden.data, ldb: r, beta: 1, c: loraB.grad.data, ldc: r)
        }
        // dh[N, R] = scaling · dout[N, O] · B[O, R]
        sgemm(transA: false, transB: false, m: n, n: r, k: o, alpha: scaling, a: dout, lda: o,
              b: loraB.value.data, ldb: r, beta: 0, c: dh.data, ldc: r)
        if loraA.requiresGrad {
            sgemm(transA: true, transB: false, m: r, n: i, k: n, alpha: 1, a: dh.data, lda: r,
                  b: x, ldb: i, beta: 1, c: loraA.grad.data, ldc: i)
        }
        guard let dinp else { return }  // first layer input: only the adapter's own gradients are needed
        if lastDropped {
            // dx[N, I] = dh · A, then through the dropout mask (zero where dropped, 1/(1-p) where kept).
            if dx.count < n * i { dx = Tensor(shape: [n * i]) }
            sgemm(transA: false, transB: false, m: n, n: i, k: r, alpha: 1, a: dh.data, lda: r,
                  b: loraA.value.data, ldb: i, beta: 0, c: dx.data, ldc: i)
            let mk = keepMask.data, g = dx.data
            for j in 0..<(n * i) { dinp[j] += g[j] * mk[j] }
        } else {
            sgemm(transA: false, transB: false, m: n, n: i, k: r, alpha: 1, a: dh.data, lda: r,
                  b: loraA.value.data, ldb: i, beta: 1, c: dinp, ldc: i)
        }
    }

    /// `scaling · B A` `[O, I]`: what merging adds to the base weight.
    public func delta() -> Tensor {
        let out = Tensor(shape: [outFeatures, inFeatures])
        sgemm(transA: false, transB: false, m: outFeatures, n: inFeatures, k: rank, alpha: scaling, a: loraB.value.data, lda: rank,
              b: loraA.value.data, ldb: inFeatures, beta: 0, c: out.data, ldc: inFeatures)
        return out
    }
}
