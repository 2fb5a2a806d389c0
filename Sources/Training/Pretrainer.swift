// The causal-LM pretraining loop: random windows, gradient accumulation, clipping, AdamW on a cosine
// schedule, periodic evaluation, atomic checkpoints with exact resume.
import Foundation
import Llama
import Logging
import Tensors

// MARK: - Progress and result

/// What the training loop reports after every optimizer step (and after evaluations and checkpoints).
public struct PretrainProgress: Sendable {
    /// What just happened.
    public enum Event: Sendable, Equatable {
        /// An optimizer step finished.
        case step
        /// An evaluation finished (`evalLoss` is set).
        case evaluation
        /// A checkpoint directory was completed (its URL).
        case checkpoint(URL)
    }

    public var event: Event
    /// Optimizer steps completed.
    public var step: Int
    /// Steps of the whole run.
    public var totalSteps: Int
    /// The step the run (or this resume) started from.
    public var startStep: Int
    /// Training loss of the last step (nats/token, mean over its micro-batches).
    public var loss: Double?
    /// Learning rate of the last step.
    public var learningRate: Double?
    /// Global gradient norm of the last step before clipping.
    public var gradNorm: Double?
    /// Training throughput since this run started (tokens/second, excluding evaluation and checkpoints).
    public var tokensPerSecond: Double?
    /// Latest validation loss (nats/token), if any.
    public var evalLoss: Double?
    /// Wall-clock seconds since this process started training.
    public var elapsedSeconds: Double
}

/// How a `train` call ended.
public struct PretrainResult: Sendable {
    /// Why the loop stopped.
    public enum Stop: String, Sendable, Codable {
        /// All `steps` ran.
        case completed
        /// The progress callback returned false.
        case requested
        /// `maxSeconds` elapsed.
        case timeLimit = "time_limit"
    }

    public var stop: Stop
    /// Optimizer steps completed in total (including those before a resume).
    public var step: Int
    /// The checkpoint written last (holds the final weights).
    public var checkpoint: URL
    /// Last training loss (nats/token), nil when no step ran in this call.
    public var loss: Double?
    /// Last validation loss (nats/token), nil without a validation file.
    public var evalLoss: Double?
    /// `exp(evalLoss)`.
    public var perplexity: Double? { evalLoss.map { exp($0) } }
    /// Training throughput of this call (tokens/second).
    public var tokensPerSecond: Double
}

// MARK: - Pretrainer

/// Trains a `LlamaModel` on next-token prediction over a token file, nanoGPT/llm.c style.
///
/// One optimizer step: zero gradients; for each of `gradientAccumulationSteps` micro-batches draw `B`
/// random windows of `T + 1` tokens (`RandomWindowSampler`), forward, mean cross-entropy over the `B*T`
/// predictions, backward with scale `1 / accumulation`; clip the global norm to `maxGradNorm`; AdamW
/// at `schedule.learningRate(at: step)`. The logged `loss` is the mean of the micro-batch losses.
///
/// Checkpoints are `checkpointRoot/checkpoint-STEP/`: a Hugging Face model directory (`config.json`,
/// `model.safetensors`, `generation_config.json`, the tokenizer files) plus `optimizer.safetensors`
/// (AdamW moments), `trainer_state.json` (step, sampler RNG, schedule, best eval) and
/// `training_args.json`, written atomically (`CheckpointDirectory.write`). `resume()` restores all of
/// it, so N steps straight and N/2 + resume + N/2 give bit-identical weights at the same BLAS thread count.
///
/// Threading: not thread-safe; one `train` at a time. Metrics go to `metrics` (HF names: `loss`,
/// `learning_rate`, `grad_norm`, `tokens_per_second`, `eval_loss`, `perplexity`), text to `logger`.
/// - Source: nanoGPT `train.py`; llm.c `train_gpt2.c`; HF `Trainer` checkpoint layout.
public final class Pretrainer {
    /// File of the AdamW moments inside a checkpoint.
    public static let optimizerFileName = "optimizer.safetensors"
    /// File of the `PretrainingConfig` inside a checkpoint.
    public static let argsFileName = "training_args.json"

    /// The model trained (weights change in place).
    public let model: LlamaModel
    /// The run's settings.
    public let config: PretrainingConfig
    /// Where `checkpoint-STEP` directories go.
    public let checkpointRoot: URL
    /// Tokenizer files copied into every checkpoint, or nil.
    public let tokenizerDirectory: URL?
    /// Step, data position, schedule, best evaluation (advanced by `train`, restored by `resume`).
    public private(set) var state: TrainerState

    private let optimizer: AdamW
    private var sampler: RandomWindowSampler
    private let validation: TokenFileReader?
    private let schedule: CosineSchedule
    private let metrics: MetricsSink?
    private let logger: Logger
    private let dLogits: Tensor
    private var losses: [Float]

    /// Prepares a run from step 0 (call `resume()` to continue from the newest checkpoint instead).
    /// - Parameters:
    ///   - model: the model (its `config.vocabSize` must cover the token files' vocabulary).
    ///   - config: the run's settings.
    ///   - train: the training token file.
    ///   - validation: the held-out token file, or nil (no evaluation).
    ///   - checkpointRoot: directory for `checkpoint-STEP` directories (created if needed).
    ///   - tokenizerDirectory: tokenizer files to copy into each checkpoint, or nil.
    ///   - metrics: metric sink, or nil.
    ///   - logger: where progress text goes.
    /// - Throws: `TrainingError.invalidConfiguration` (a field out of range, `seq_len` above
    ///   `max_position_embeddings`, a token file whose vocabulary exceeds the model's);
    ///   `TrainingError.corpusTooShort` when a token file holds fewer than `seq_len + 1` tokens.
    public init(model: LlamaModel, config: PretrainingConfig, train: TokenFileReader, validation: TokenFileReader?,
                checkpointRoot: URL, tokenizerDirectory: URL? = nil, metrics: MetricsSink? = nil,
                logger: Logger = Logger(label: "rlhf.pretrain")) throws {
        try config.validate(maxPositionEmbeddings: model.config.maxPositionEmbeddings)
        for reader in [train] + (validation.map { [$0] } ?? []) where reader.header.vocabSize > model.config.vocabSize {
            throw TrainingError.invalidConfiguration(
                field: "vocab_size",
                reason: "token file \(reader.paths.data.path) has vocabulary \(reader.header.vocabSize), the model only \(model.config.vocabSize); use the tokenizer's vocab size")
        }
        if let validation {
            _ = try EvaluationWindows(reader: validation, batchSize: config.batchSize, seqLen: config.seqLen)
        }
        self.model = model
        self.config = config
        self.checkpointRoot = checkpointRoot
        self.tokenizerDirectory = tokenizerDirectory
        self.validation = validation
        self.metrics = metrics
        self.logger = logger
        schedule = try config.schedule()
        sampler = try RandomWindowSampler(reader: train, batchSize: config.batchSize, seqLen: config.seqLen, seed: config.seed)
        optimizer = AdamW(parameters: model.parameters, hyperparameters: .init(
            lr: Float(config.learningRate), beta1: Float(config.adamBeta1), beta2: Float(config.adamBeta2),
            eps: Float(config.adamEpsilon), weightDecay: Float(config.weightDecay)))
        state = TrainerState(sampler: sampler.state, schedule: schedule, seed: config.seed)
        let rows = config.batchSize * config.seqLen
        dLogits = Tensor(shape: [rows, model.config.vocabSize])
        losses = [Float](repeating: 0, count: rows)
    }

    // MARK: Resume

    /// Restores weights, optimizer moments, step and data position from the newest complete
    /// `checkpoint-STEP` under `checkpointRoot` (temporaries of an interrupted save are removed first).
    /// - Returns: the step resumed from, or nil when there is no checkpoint (nothing changes then).
    /// - Throws: `TrainingError.invalidConfiguration` when the checkpoint was written for another model
    ///   config or incompatible training settings (naming the fields), `LlamaConfigError`,
    ///   `SafeTensorsError`, `OptimizerStateError` or `TrainingError.io` when its files are damaged.
    ///   The model is unchanged unless every check passed.
    @discardableResult
    public func resume() throws -> Int? {
        Self.removeTemporaries(in: checkpointRoot)
        guard let latest = CheckpointDirectory.latest(in: checkpointRoot) else { return nil }
        let dir = latest.url
        try Self.checkCompatible(checkpoint: dir, model: model.config, config: config)
        let saved = try TrainerState.load(from: dir)
        guard saved.globalStep == latest.step else {
            throw TrainingError.invalidConfiguration(field: dir.path, reason: "trainer_state.json says step \(saved.globalStep), the directory name says \(latest.step)")
        }
        // Read everything before touching the model (a failed load leaves it unchanged).
        let probe = AdamW(parameters: model.parameters, hyperparameters: optimizer.hyperparameters)
        try probe.load(from: dir.appendingPathComponent(Self.optimizerFileName))
        try model.loadWeights(from: dir.appendingPathComponent("model.safetensors"))
        try optimizer.restore(probe.state())
        sampler = try RandomWindowSampler(reader: sampler.reader, batchSize: config.batchSize, seqLen: config.seqLen, state: saved.sampler)
        state = saved
        state.schedule = schedule
        logger.info("resumed from \(dir.path) at step \(saved.globalStep)")
        return saved.globalStep
    }

    /// Checks that `checkpoint` was written for `model` and settings compatible with `config`.
    /// - Throws: `TrainingError.invalidConfiguration` naming the differing keys and the directory.
    public static func checkCompatible(checkpoint: URL, model: LlamaConfig, config: PretrainingConfig) throws {
        let saved = try LlamaConfig.load(contentsOf: checkpoint.appendingPathComponent("config.json"))
        if saved != model {
            let a = (try? JSONSerialization.jsonObject(with: saved.jsonData())) as? [String: Any] ?? [:]
            let b = (try? JSONSerialization.jsonObject(with: model.jsonData())) as? [String: Any] ?? [:]
            let keys = Set(a.keys).union(b.keys).filter { "\(a[$0] ?? "nil")" != "\(b[$0] ?? "nil")" }.sorted()
            throw TrainingError.invalidConfiguration(
                field: checkpoint.appendingPathComponent("config.json").path,
                reason: "the checkpoint is for another model config (differs in \(keys.joined(separator: ", "))); use the same shape or another output directory")
        }
        let argsURL = checkpoint.appendingPathComponent(argsFileName)
        let args: PretrainingConfig
        do { args = try JSONDecoder().decode(PretrainingConfig.self, from: Data(contentsOf: argsURL)) } catch {
            throw TrainingError.invalidConfiguration(field: argsURL.path, reason: "unreadable training arguments: \(error)")
        }
        let diffs = config.resumeIncompatibilities(with: args)
        guard diffs.isEmpty else {
            throw TrainingError.invalidConfiguration(
                field: argsURL.path,
                reason: "the checkpoint was trained with other settings: \(diffs.joined(separator: "; ")); use the same settings or another output directory")
        }
    }

    static func removeTemporaries(in root: URL) {
        let fm = FileManager.default
        for e in (try? fm.contentsOfDirectory(atPath: root.path)) ?? [] where e.hasPrefix(CheckpointDirectory.stepPrefix) {
            if e.contains(".tmp-") { try? fm.removeItem(at: root.appendingPathComponent(e)) }
            if let r = e.range(of: ".old-") {
                // An interrupted replace: put the old directory back if the new one is missing.
                try? CheckpointDirectory.recover(root.appendingPathComponent(String(e[..<r.lowerBound])))
            }
        }
    }

    // MARK: Training

    /// Runs optimizer steps until `config.steps`, the callback returns false, or `maxSeconds` passes;
    /// evaluates every `evalInterval` steps and at the end, saves checkpoints every `saveSteps` and at the end.
    /// - Parameter progress: called after each step, evaluation and checkpoint; return false to stop
    ///   (a checkpoint of the current step is then written).
    /// - Returns: how the run ended, the last checkpoint and losses.
    /// - Throws: `TrainingError.nonFinite` naming the step when the loss or gradient norm is NaN/∞
    ///   (no checkpoint is written for it; the previous ones stay); `TrainingError.io` / `SafeTensorsError`
    ///   when a checkpoint cannot be written; errors of `metrics`.
    public func train(progress: (PretrainProgress) -> Bool = { _ in true }) throws -> PretrainResult {
        let start = Date()
        let startStep = state.globalStep
        var trainSeconds = 0.0, trainTokens = 0
        var windowLoss = 0.0, windowSteps = 0, windowTokens = 0, windowSeconds = 0.0
        var last = PretrainProgress(event: .step, step: state.globalStep, totalSteps: config.steps, startStep: startStep,
                                    elapsedSeconds: 0)
        var lastCheckpoint: URL? = CheckpointDirectory.latest(in: checkpointRoot).flatMap { $0.step == state.globalStep ? $0.url : nil }
        var lastEval: Double? = nil
        var lastEvalStep = -1
        var stop = PretrainResult.Stop.completed
        let parameters = optimizer.parameters

        func emit(_ event: PretrainProgress.Event) -> Bool {
            last.event = event
            last.step = state.globalStep
            last.elapsedSeconds = Date().timeIntervalSince(start)
            last.tokensPerSecond = trainSeconds > 0 ? Double(trainTokens) / trainSeconds : nil
            last.evalLoss = lastEval
            return progress(last)
        }
        func checkpoint() throws {
            if lastCheckpoint.map({ $0.lastPathComponent == "\(CheckpointDirectory.stepPrefix)\(state.globalStep)" }) == true { return }
            let url = try saveCheckpoint()
            lastCheckpoint = url
            _ = emit(.checkpoint(url))
        }
        func evaluateAndRecord() throws {
            guard validation != nil else { return }
            let l = evaluate()
            lastEval = l
            lastEvalStep = state.globalStep
            state.recordEvaluation(loss: l, step: state.globalStep)
            try metrics?.record(step: state.globalStep, name: "eval_loss", value: l)
            try metrics?.record(step: state.globalStep, name: "perplexity", value: exp(l))
            logger.info("step \(state.globalStep): eval_loss \(String(format: "%.4f", l)) perplexity \(String(format: "%.2f", exp(l)))")
            _ = emit(.evaluation)
        }

        while state.globalStep < config.steps {
            let stepIndex = state.globalStep
            let t0 = DispatchTime.now().uptimeNanoseconds
            let (loss, gradNorm, lr) = try step(index: stepIndex, parameters: parameters)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            state.globalStep += 1
            state.tokensSeen += config.tokensPerStep
            state.sampler = sampler.state
            trainSeconds += seconds; trainTokens += config.tokensPerStep
            windowLoss += loss; windowSteps += 1; windowSeconds += seconds; windowTokens += config.tokensPerStep
            last.loss = loss; last.gradNorm = gradNorm; last.learningRate = lr
            let s = state.globalStep
            if s % config.loggingSteps == 0 || s == config.steps {
                let tps = windowSeconds > 0 ? Double(windowTokens) / windowSeconds : 0
                try metrics?.record(step: s, name: "loss", value: windowLoss / Double(windowSteps))
                try metrics?.record(step: s, name: "learning_rate", value: lr)
                try metrics?.record(step: s, name: "grad_norm", value: gradNorm)
                try metrics?.record(step: s, name: "tokens_per_second", value: tps)
                logger.debug("step \(s): loss \(windowLoss / Double(windowSteps)) lr \(lr) grad_norm \(gradNorm) tok/s \(Int(tps))")
                windowLoss = 0; windowSteps = 0; windowSeconds = 0; windowTokens = 0
            }
            let keepGoing = emit(.step)
            if config.evalInterval > 0, s % config.evalInterval == 0, s < config.steps { try evaluateAndRecord() }
            if config.saveSteps > 0, s % config.saveSteps == 0, s < config.steps {
                try checkpoint()
                try CheckpointDirectory.prune(in: checkpointRoot, keep: config.saveTotalLimit)
            }
            if !keepGoing { stop = .requested; break }
            if let limit = config.maxSeconds, Date().timeIntervalSince(start) >= limit, s < config.steps {
                stop = .timeLimit
                logger.info("max_seconds (\(limit) s) reached at step \(s); stopping")
                break
            }
        }
        if lastEvalStep != state.globalStep { try evaluateAndRecord() }
        try checkpoint()
        try CheckpointDirectory.prune(in: checkpointRoot, keep: config.saveTotalLimit)
        let steps = state.globalStep - startStep
        return PretrainResult(stop: stop, step: state.globalStep, checkpoint: lastCheckpoint!,
                              loss: steps > 0 ? last.loss : nil, evalLoss: lastEval,
                              tokensPerSecond: trainSeconds > 0 ? Double(trainTokens) / trainSeconds : 0)
    }

    /// One optimizer step at 0-based `index`: returns (mean loss, grad norm before clipping, lr).
    private func step(index: Int, parameters: [Parameter]) throws -> (Double, Double, Double) {
        let accumulation = config.gradientAccumulationSteps
        let rows = config.batchSize * config.seqLen, vocab = model.config.vocabSize
        model.zeroGradients()
        var total = 0.0
        for _ in 0..<accumulation {
            let batch = sampler.nextBatch()
            let out = model.forward(LlamaInput(tokens: batch.inputs, batch: batch.batchSize, seqLen: batch.seqLen))
            guard let logits = out.logits else { preconditionFailure("forward without logits") }
            let (loss, count) = batch.targets.withUnsafeBufferPointer { t in
                losses.withUnsafeMutableBufferPointer { l in
                    crossEntropyForward(losses: l.baseAddress!, logits: logits.data, targets: t.baseAddress!, rows: rows, vocab: vocab)
                }
            }
            try checkFinite(Double(loss), name: "loss", step: index)
            dLogits.zero()
            batch.targets.withUnsafeBufferPointer { t in
                crossEntropyBackward(dlogits: dLogits.data, logits: logits.data, targets: t.baseAddress!, rows: rows, vocab: vocab,
                                     dloss: 1 / Float(accumulation), count: count)
            }
            model.backward(dLogits: UnsafePointer(dLogits.data), dHidden: nil)
            total += Double(loss)
        }
        let norm = config.maxGradNorm > 0 ? clipGradientNorm(parameters, maxNorm: Float(config.maxGradNorm)) : gradientNorm(parameters)
        try checkFinite(Double(norm), name: "grad_norm", step: index)
        let lr = schedule.learningRate(at: index)
        optimizer.step(lr: Float(lr))
        return (total / Double(accumulation), Double(norm), lr)
    }

    // MARK: Evaluation

    /// Mean next-token cross-entropy (nats/token) over the first `evalBatches * batchSize` sequential
    /// windows of the validation file (all windows when `evalBatches` is 0); deterministic. Side effect:
    /// overwrites the model's cached activations. Returns NaN without a validation file.
    public func evaluate() -> Double {
        guard let validation,
              let windows = try? EvaluationWindows(reader: validation, batchSize: config.batchSize, seqLen: config.seqLen,
                                                   maxWindows: config.evalBatches > 0 ? config.evalBatches * config.batchSize : nil)
        else { return .nan }
        var total = 0.0, count = 0
        var rowLosses = [Float](repeating: 0, count: config.batchSize * config.seqLen)
        for batch in windows {
            let rows = batch.batchSize * batch.seqLen
            let out = model.forward(LlamaInput(tokens: batch.inputs, batch: batch.batchSize, seqLen: batch.seqLen))
            guard let logits = out.logits else { continue }
            let (l, n) = batch.targets.withUnsafeBufferPointer { t in
                rowLosses.withUnsafeMutableBufferPointer { lp in
                    crossEntropyForward(losses: lp.baseAddress!, logits: logits.data, targets: t.baseAddress!, rows: rows, vocab: model.config.vocabSize)
                }
            }
            total += Double(l) * Double(n); count += n
        }
        return count > 0 ? total / Double(count) : .nan
    }

    // MARK: Checkpoints

    /// Writes `checkpointRoot/checkpoint-STEP` for the current step atomically (model directory,
    /// optimizer moments, trainer state, training arguments).
    /// - Returns: the checkpoint's URL.
    /// - Throws: `TrainingError.io`, `SafeTensorsError.writeFailed`.
    @discardableResult
    public func saveCheckpoint() throws -> URL {
        do { try FileManager.default.createDirectory(at: checkpointRoot, withIntermediateDirectories: true) } catch {
            throw TrainingError.io(operation: "create directory", path: checkpointRoot.path, reason: error.localizedDescription)
        }
        let url = CheckpointDirectory.url(root: checkpointRoot, step: state.globalStep)
        let args: Data
        do {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            args = try enc.encode(config)
        } catch {
            throw TrainingError.io(operation: "encode training arguments", path: url.path, reason: "\(error)")
        }
        try CheckpointDirectory.write(to: url) { dir in
            try ModelDirectory.write(model: model, tokenizerDirectory: tokenizerDirectory, to: dir)
            try optimizer.save(to: dir.appendingPathComponent(Self.optimizerFileName))
            try state.save(in: dir)
            try writeFileAtomically(args, to: dir.appendingPathComponent(Self.argsFileName))
        }
        logger.info("saved \(url.path)")
        return url
    }
}
