// A Llama reward model: the decoder plus a scalar head read at the last real token, as Hugging Face
// `LlamaForSequenceClassification` with `num_labels: 1` (TRL's reward models).
//
// Legend: B sequences, T tokens (right-padded), C hidden_size.

import Foundation
import Llama
import SafeTensors
import Tensors
import Tokenization
import Training

// MARK: - RewardModel

/// A reward model: Llama backbone, `score.weight [1, C]` applied to the final-norm hidden state of each
/// sequence's last real token, and the affine `RewardNormalization` stored with it.
///
/// Batches are right-padded (positions `0..<T` per row, pads masked as keys), so appending padding
/// after a response changes nothing before it, and the score is read at the last real token (the EOS
/// when the response ended), never at a pad. Raw scores train the Bradley-Terry loss; `scores`
/// applies the normalisation. The backbone's `lm_head` (if any) is unused, frozen and not saved.
/// Threading: one forward/backward at a time (the backbone caches activations).
/// Source: transformers `LlamaForSequenceClassification` (`score`, pooled at the last non-pad token);
/// TRL `RewardTrainer`; Ziegler et al. 2019 §2.2 (normalisation).
public final class RewardModel {
    /// The decoder (its `lm_head`, if present, is frozen and ignored).
    public let backbone: LlamaModel
    /// `score.weight` `[1, C]` (Hugging Face name; no bias, as `LlamaForSequenceClassification`).
    public let score: Parameter
    /// Maps raw scores to normalised rewards (identity until fitted).
    public var normalization: RewardNormalization
    /// File holding the normalisation next to the weights.
    public static let normalizationFileName = "reward_normalization.json"

    private var lastIndices: [Int] = []
    private var lastHidden: [Float] = []
    private var lastSeqLen = 0

    /// Wraps a backbone and draws a new head from `normal(0, initializer_range)` (HF's init).
    /// - Parameters:
    ///   - backbone: e.g. `LlamaModel.load(directory:)` of the base model.
    ///   - seed: seed of the head's initialisation.
    public init(backbone: LlamaModel, seed: UInt64) {
        self.backbone = backbone
        let c = backbone.config.hiddenSize
        score = Parameter(name: "score.weight", shape: [1, c], weightDecay: true)
        var rng = Xoshiro256(seed: seed ^ 0x5C0_2E)
        for i in 0..<c { score.value[i] = Float(rng.nextNormal() * Double(backbone.config.initializerRange)) }
        normalization = .identity
        backbone.lmHead?.weight.requiresGrad = false
    }

    /// The parameters trained by Bradley-Terry (backbone without `lm_head`, then `score.weight`).
    public var trainableParameters: [Parameter] {
        backbone.parameters.filter { $0.name != "lm_head.weight" } + [score]
    }

    /// The pad id used for right padding (the config's `pad_token_id`, else 0; pads are masked).
    public var padTokenId: Int32 { Int32(backbone.config.padTokenId ?? 0) }

    // MARK: Forward and backward

    /// Raw scores of B sequences in one right-padded batch (side effect: caches for `backward`).
    /// - Parameter sequences: B non-empty token lists (ids in the vocabulary; at most
    ///   `max_position_embeddings` tokens each).
    /// - Returns: raw scores `[B]` (no normalisation).
    public func forward(_ sequences: [[Int32]]) -> [Float] {
        let b = sequences.count
        let t = sequences.map(\.count).max() ?? 0
        precondition(b > 0 && t > 0 && sequences.allSatisfy { !$0.isEmpty }, "RewardModel.forward: empty batch or sequence")
        let c = backbone.config.hiddenSize
        var tokens = [Int32](repeating: padTokenId, count: b * t)
        var mask = [UInt8](repeating: 0, count: b * t)
        for (i, s) in sequences.enumerated() {
            for (j, tok) in s.enumerated() { tokens[i * t + j] = tok; mask[i * t + j] = 1 }
        }
        let out = backbone.forward(LlamaInput(tokens: tokens, batch: b, seqLen: t, attentionMask: mask), computeLogits: false)
        lastIndices = sequences.enumerated().map { $0.offset * t + $0.element.count - 1 }
        lastSeqLen = t
        lastHidden = [Float](repeating: 0, count: b * c)
        var scores = [Float](repeating: 0, count: b)
        for (i, row) in lastIndices.enumerated() {
            var s: Float = 0
            for k in 0..<c {
                let h = out.hidden[row * c + k]
                lastHidden[i * c + k] = h
                s += h * score.value[k]
            }
            scores[i] = s
        }
        return scores
    }

    /// Backward of the last `forward`: adds `dScores[i] * h_i` into `score.grad` and backpropagates
    /// `dScores[i] * score.weight` from each last-real-token hidden state into the backbone.
    /// - Parameter dScores: d loss / d raw score `[B]`.
    public func backward(dScores: [Float]) {
        let c = backbone.config.hiddenSize
        precondition(dScores.count == lastIndices.count, "RewardModel.backward: \(dScores.count) gradients for \(lastIndices.count) scores")
        let dHidden = Tensor(shape: [lastIndices.count * lastSeqLen, c])
        for (i, row) in lastIndices.enumerated() {
            let d = dScores[i]
            for k in 0..<c {
                dHidden[row * c + k] = d * score.value[k]
                if score.requiresGrad { score.grad[k] += d * lastHidden[i * c + k] }
            }
        }
        backbone.backward(dLogits: nil, dHidden: dHidden)
    }

    /// Raw scores of many sequences, `batchSize` at a time.
    public func rawScores(_ sequences: [[Int32]], batchSize: Int = 8) -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(sequences.count)
        var i = 0
        while i < sequences.count {
            let j = Swift.min(sequences.count, i + Swift.max(1, batchSize))
            out += forward(Array(sequences[i..<j]))
            i = j
        }
        return out
    }

    /// Normalised rewards `gain * raw + bias` of many sequences.
    public func scores(_ sequences: [[Int32]], batchSize: Int = 8) -> [Float] {
        normalization.apply(rawScores(sequences, batchSize: batchSize))
    }

    // MARK: Files

    /// Writes a Hugging Face `LlamaForSequenceClassification` directory: `config.json`
    /// (`architectures: ["LlamaForSequenceClassification"]`, `num_labels: 1`), `model.safetensors`
    /// (backbone without `lm_head`, plus `score.weight`), `reward_normalization.json`, and the
    /// tokenizer's files copied from `tokenizerDirectory`. Each file is written to a temporary name
    /// and renamed.
    /// - Throws: `TrainerError.io` when a file cannot be written or read.
    public func save(directory: URL, tokenizerDirectory: URL?) throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            var writer = SafeTensorsWriter(metadata: ["format": "pt"])
            for p in trainableParameters {
                try writer.add(p.name, shape: p.shape, floats: UnsafeBufferPointer(start: p.value.data, count: p.count))
            }
            try writer.write(to: directory.appendingPathComponent("model.safetensors"))
            guard var config = try JSONSerialization.jsonObject(with: backbone.config.jsonData()) as? [String: Any] else {
                throw TrainerError.io(path: directory.path, detail: "cannot encode config.json")
            }
            config["architectures"] = ["LlamaForSequenceClassification"]
            config["num_labels"] = 1
            config["id2label"] = ["0": "LABEL_0"]
            config["label2id"] = ["LABEL_0": 0]
            config["problem_type"] = "regression"
            let data = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            try writeFileAtomically(data, to: directory.appendingPathComponent("config.json"))
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try writeFileAtomically(try enc.encode(normalization), to: directory.appendingPathComponent(Self.normalizationFileName))
            if let tokenizerDirectory { try copyTokenizerFiles(from: tokenizerDirectory, to: directory) }
        } catch let e as TrainerError { throw e } catch {
            throw TrainerError.io(path: directory.path, detail: "cannot save the reward model: \(error)")
        }
    }

    /// Loads a directory written by `save` (or any HF `LlamaForSequenceClassification` with one label
    /// and no bias): config, backbone weights, `score.weight`, and the normalisation (identity when
    /// `reward_normalization.json` is absent).
    /// - Throws: `TrainerError.badModelDirectory` (no `score.weight`: not a reward model), any
    ///   `LlamaConfigError` / `SafeTensorsError` naming the key or tensor.
    public static func load(directory: URL) throws -> RewardModel {
        let config = try LlamaConfig.load(contentsOf: directory.appendingPathComponent("config.json"))
        let backbone = try LlamaModel(config: config, seed: 0)
        let url = directory.appendingPathComponent("model.safetensors")
        let file = try SafeTensorsFile.read(contentsOf: url)
        guard file.contains("score.weight") else {
            throw TrainerError.badModelDirectory(path: directory.path,
                detail: "model.safetensors has no 'score.weight': this is not a reward model (train one with the reward-model stage)")
        }
        let model = RewardModel(backbone: backbone, seed: 0)
        for p in model.trainableParameters { p.value.copy(from: try file.floats(p.name, shape: p.shape)) }
        let normURL = directory.appendingPathComponent(normalizationFileName)
        if FileManager.default.fileExists(atPath: normURL.path) {
            do { model.normalization = try JSONDecoder().decode(RewardNormalization.self, from: Data(contentsOf: normURL)) } catch {
                throw TrainerError.badModelDirectory(path: directory.path, detail: "\(normalizationFileName) is unreadable: \(error)")
            }
        }
        return model
    }

    /// Whether `directory` holds a reward model (`config.json` names `LlamaForSequenceClassification`).
    public static func isRewardModelDirectory(_ directory: URL) -> Bool {
        guard let data = try? Data(contentsOf: directory.appendingPathComponent("config.json")),
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let arch = obj["architectures"] as? [String] else { return false }
        return arch.contains("LlamaForSequenceClassification")
    }
}

// MARK: - Tokenizer files

/// Files of a model directory that are never copied as tokenizer files.
let nonTokenizerFiles: Set<String> = ["config.json", "model.safetensors", "generation_config.json",
                                      RewardModel.normalizationFileName, "trainer_state.json", "optimizer.safetensors"]

/// Copies every regular tokenizer file (`tokenizer.json`, `tokenizer_config.json`,
/// `special_tokens_map.json`, ...) of `source` into `destination` (atomically, file by file).
/// - Throws: `TrainerError.io` when a file cannot be read or written.
public func copyTokenizerFiles(from source: URL, to destination: URL) throws {
    let fm = FileManager.default
    let names: [String]
    do { names = try fm.contentsOfDirectory(atPath: source.path) } catch {
        throw TrainerError.io(path: source.path, detail: "cannot list the tokenizer files: \(error.localizedDescription)")
    }
    for name in names.sorted() where !nonTokenizerFiles.contains(name) && !name.hasPrefix(".") && !name.hasSuffix(".safetensors") {
        let src = source.appendingPathComponent(name)
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: src.path, isDirectory: &isDir), !isDir.boolValue else { continue }
        do { try writeFileAtomically(try Data(contentsOf: src), to: destination.appendingPathComponent(name)) } catch {
            throw TrainerError.io(path: src.path, detail: "cannot copy: \(error)")
        }
    }
}
