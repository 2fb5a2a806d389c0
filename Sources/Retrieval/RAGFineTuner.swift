import Foundation
import Llama
import Logging
import Tensors
import Tokenization
import Training

// MARK: - Configuration

/// Hyper-parameters of retrieval-augmented fine-tuning (RA-DIT's LM step, Lin et al. 2023, sec. 2.2).
public struct RAGFineTuningConfig: Codable, Equatable, Sendable {
    /// Optimizer steps.
    public var steps: Int
    /// Sequences per step.
    public var batchSize: Int
    /// Peak learning rate of the cosine schedule.
    public var learningRate: Double
    /// Linear warm-up steps.
    public var warmupSteps: Int
    /// Final learning rate as a fraction of the peak.
    public var minLearningRateRatio: Double
    /// AdamW decoupled weight decay.
    public var weightDecay: Double
    /// Global gradient-norm clipping threshold (HF `max_grad_norm`).
    public var maxGradNorm: Double
    /// Longest training sequence in tokens (at most the model's `max_position_embeddings`); longer
    /// sequences lose prompt tokens from the left (`RAGPromptTemplate.encode`), never the answer.
    public var maxLength: Int
    /// Seed of the example shuffle and of the RA-DIT kind assignment of each epoch.
    public var seed: UInt64

    /// A configuration; defaults suit fine-tuning a tiny model.
    public init(steps: Int = 300, batchSize: Int = 16, learningRate: Double = 1e-3, warmupSteps: Int = 20,
                minLearningRateRatio: Double = 0.1, weightDecay: Double = 0.0, maxGradNorm: Double = 1.0,
                maxLength: Int = 256, seed: UInt64 = 0) {
        self.steps = steps
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.warmupSteps = warmupSteps
        self.minLearningRateRatio = minLearningRateRatio
        self.weightDecay = weightDecay
        self.maxGradNorm = maxGradNorm
        self.maxLength = maxLength
        self.seed = seed
    }

    /// - Throws: `RetrievalError.invalidParameter` naming the first value out of range.
    public func validate() throws {
        func check(_ ok: Bool, _ name: String, _ value: Any, _ expected: String) throws {
            if !ok { throw RetrievalError.invalidParameter(name: name, value: "\(value)", expected: expected) }
        }
        try check(steps >= 1, "steps", steps, "at least 1")
        try check(batchSize >= 1, "batch_size", batchSize, "at least 1")
        try check(learningRate > 0 && learningRate.isFinite, "learning_rate", learningRate, "a finite number > 0")
        try check(warmupSteps >= 0, "warmup_steps", warmupSteps, "at least 0")
        try check(maxGradNorm > 0, "max_grad_norm", maxGradNorm, "> 0")
        try check(maxLength >= 8, "max_length", maxLength, "at least 8 tokens")
    }
}

/// What a fine-tuning run did.
public struct RAGFineTuningSummary: Codable, Equatable, Sendable {
    /// Steps run.
    public var steps: Int
    /// Mean loss of the first and of the last 10% of steps, in nats per answer token.
    public var initialLoss: Double
    public var finalLoss: Double
    /// Training sequences encoded, answer tokens trained on (summed over steps).
    public var sequences: Int
    public var answerTokens: Int
    /// Sequences whose prompt was cut to fit `maxLength`.
    public var truncatedSequences: Int
}

// MARK: - Fine-tuner

/// Fine-tunes a causal LM on "passages + question -> answer<EOS>" sequences with the loss on the answer
/// only (labels -100 on BOS and prompt, `RAGPromptTemplate.encode`), in place.
///
/// Each step takes `batchSize` examples from a stream that cycles through epochs: epoch e uses the
/// examples `makeEpoch(e)` returns (the stage rebuilds the RA-DIT mix with seed + e, so a question is
/// seen retrieved, distractor-only and closed-book over the epochs), shuffled with the seed. Sequences
/// of a batch are left-padded (`LlamaInput.leftPadded`, pads masked out of attention and labelled -100).
/// AdamW (Loshchilov & Hutter 2019) on a cosine schedule with linear warm-up, global-norm clipping.
public final class RAGFineTuner {
    /// The model being tuned (weights change in place).
    public let model: LlamaModel
    /// Its tokenizer.
    public let tokenizer: BPETokenizer
    /// The prompt format.
    public let template: RAGPromptTemplate
    /// Hyper-parameters.
    public let config: RAGFineTuningConfig
    private let logger: Logger

    /// A fine-tuner.
    /// - Throws: `RetrievalError.invalidParameter` for a bad config or a tokenizer without EOS, or
    ///   `max_length` above the model's `max_position_embeddings`.
    public init(model: LlamaModel, tokenizer: BPETokenizer, template: RAGPromptTemplate, config: RAGFineTuningConfig,
                logger: Logger) throws {
        try config.validate()
        guard tokenizer.eosTokenId != nil else {
            throw RetrievalError.invalidParameter(name: "tokenizer", value: "no eos token", expected: "a tokenizer with an EOS token")
        }
        guard config.maxLength <= model.config.maxPositionEmbeddings else {
            throw RetrievalError.invalidParameter(
                name: "max_length", value: "\(config.maxLength)",
                expected: "at most the model's max_position_embeddings (\(model.config.maxPositionEmbeddings))")
        }
        guard tokenizer.vocabSize <= model.config.vocabSize else {
            throw RetrievalError.invalidParameter(
                name: "tokenizer", value: "\(tokenizer.vocabSize) tokens",
                expected: "at most the model's vocab_size (\(model.config.vocabSize))")
        }
        self.model = model
        self.tokenizer = tokenizer
        self.template = template
        self.config = config
        self.logger = logger
    }

    /// Token ids and labels of one example (`[T]` each, T <= maxLength) and whether its prompt was cut.
    public func encode(_ example: RAGTrainingExample) -> (inputIDs: [Int32], labels: [Int32], truncated: Bool) {
        let tokenizer = self.tokenizer
        let full = (tokenizer.bosTokenId == nil ? 0 : 1) + tokenizer.encode(example.prompt).count
        let encoded = template.encode(
            prompt: example.prompt, answer: example.answer, tokenize: { tokenizer.encode($0) },
            bosTokenID: tokenizer.bosTokenId, eosTokenID: tokenizer.eosTokenId ?? 0, maxLength: config.maxLength)
        let promptKept = encoded.labels.prefix { $0 == -100 }.count
        return (encoded.inputIDs, encoded.labels, promptKept < full)
    }

    /// Runs `config.steps` optimizer steps (side effect: updates the model's weights).
    /// - Parameters:
    ///   - makeEpoch: the examples of epoch e (0, 1, ...); must be non-empty.
    ///   - log: called after every step with `loss` (nats per answer token), `learning_rate`, `grad_norm`.
    ///   - shouldStop: polled before each step; true stops by throwing `CancellationError`.
    /// - Returns: a summary.
    /// - Throws: `RetrievalError.invalidParameter` when an epoch has no example; `TrainingError` when the
    ///   loss or gradient norm is not finite; errors of `makeEpoch`; `CancellationError`.
    public func train(
        makeEpoch: (Int) throws -> [RAGTrainingExample],
        log: (Int, [(String, Double)]) -> Void = { _, _ in },
        shouldStop: () -> Bool = { false }
    ) throws -> RAGFineTuningSummary {
        let optimizer = AdamW(parameters: model.parameters, hyperparameters: .init(
            lr: Float(config.learningRate), beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: Float(config.weightDecay)))
        let schedule = try CosineSchedule(
            learningRate: config.learningRate, warmupSteps: min(config.warmupSteps, config.steps),
            maxSteps: config.steps, minLearningRateRatio: config.minLearningRateRatio)
        var generator = SplitMix64(state: config.seed ^ 0x4641_4E45_5455_4E45)
        var epoch = -1
        var queue: [(inputIDs: [Int32], labels: [Int32])] = []
        var cursor = 0
        var losses: [Double] = []
        var sequences = 0, answerTokens = 0, truncated = 0
        let pad = tokenizer.padTokenId ?? tokenizer.eosTokenId ?? 0

        func nextExample() throws -> (inputIDs: [Int32], labels: [Int32]) {
            if cursor >= queue.count {
                epoch += 1
                let examples = try makeEpoch(epoch)
                guard !examples.isEmpty else {
                    throw RetrievalError.invalidParameter(name: "train_questions", value: "0 examples", expected: "at least one training example")
                }
                queue = examples.map { example in
                    let e = encode(example)
                    if e.truncated { truncated += 1 }
                    return (e.inputIDs, e.labels)
                }
                queue.shuffle(using: &generator)
                cursor = 0
            }
            defer { cursor += 1 }
            return queue[cursor]
        }

        for step in 0..<config.steps {
            if shouldStop() { throw CancellationError() }
            var batch: [(inputIDs: [Int32], labels: [Int32])] = []
            for _ in 0..<config.batchSize { batch.append(try nextExample()) }
            let input = LlamaInput.leftPadded(batch.map(\.inputIDs), padToken: pad)
            var labels: [Int32] = []
            labels.reserveCapacity(input.batch * input.seqLen)
            for item in batch {
                labels += [Int32](repeating: -100, count: input.seqLen - item.labels.count) + item.labels
            }
            model.zeroGradients()
            let loss = Double(model.loss(input: input, labels: labels))
            guard loss.isFinite else { throw TrainingError.nonFinite(name: "loss", step: step + 1, value: loss, index: nil) }
            model.backwardLoss()
            let norm = Double(clipGradientNorm(model.parameters, maxNorm: Float(config.maxGradNorm)))
            guard norm.isFinite else { throw TrainingError.nonFinite(name: "grad_norm", step: step + 1, value: norm, index: nil) }
            let lr = schedule.learningRate(at: step)
            optimizer.step(lr: Float(lr))
            losses.append(loss)
            sequences += batch.count
            answerTokens += labels.lazy.filter { $0 != -100 }.count - batch.count
            log(step + 1, [("loss", loss), ("learning_rate", lr), ("grad_norm", norm)])
        }
        let tail = max(1, losses.count / 10)
        let summary = RAGFineTuningSummary(
            steps: losses.count, initialLoss: losses.prefix(tail).reduce(0, +) / Double(tail),
            finalLoss: losses.suffix(tail).reduce(0, +) / Double(tail), sequences: sequences,
            answerTokens: answerTokens, truncatedSequences: truncated)
        logger.info("rag fine-tuning done", metadata: [
            "steps": "\(summary.steps)", "initial_loss": "\(summary.initialLoss)", "final_loss": "\(summary.finalLoss)",
            "truncated_sequences": "\(truncated)", "epochs": "\(epoch + 1)",
        ])
        return summary
    }
}
