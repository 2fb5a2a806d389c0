import Foundation
import Llama
import Logging
import Pipeline
import Tokenization
import Training

/// Stage kind `pretrain`: trains a Llama from scratch on a text corpus with the tokenizer of the stage it
/// needs (`train-tokenizer`); the artifact root is the Hugging Face model directory (`config.json`,
/// `model.safetensors`, `generation_config.json`, tokenizer files).
///
/// The corpus is tokenized once into token files cached in the stage's checkpoint directory, with whole
/// books held out for validation (`manifest`) or the last pieces of the text (no manifest). Checkpoints
/// go to the checkpoint directory too, so an interrupted run (even `kill -9`) resumes exactly.
/// Metrics (HF Trainer names): `loss`, `learning_rate`, `grad_norm`, `tokens_per_second`, `eval_loss`,
/// `perplexity`, `global_step` (steps done; a headline metric when `max_seconds` stopped the run early). The seed is the stage's (data order and initial weights).
/// - Source: nanoGPT `train.py`, llm.c `train_gpt2.c` (see `Pretrainer`).
public struct PretrainStage: StageKind {
    public static let name = "pretrain"
    public static let version = "1"
    public static let summary = "Pretrain a Llama on a text corpus (causal LM); artifact: a Hugging Face model directory."
    public static let headlineMetrics = ["eval_loss", "perplexity"]
    public static let parameters: ParameterSchema = [
        // Data.
        ParameterSpec("corpus", .path, required: "Text corpus (UTF-8). With `manifest`: the joined corpus.txt the manifest describes."),
        ParameterSpec("manifest", .path, default: .null,
                      doc: "Gutenberg manifest.tsv: whole books become documents and whole books are held out for validation."),
        ParameterSpec("validation_fraction", .float, default: .float(0.1), doc: "Fraction of documents held out for validation."),
        ParameterSpec("validation_books", .list(.string), default: .list([]),
                      doc: "Exact document ids to hold out (overrides validation_fraction), e.g. [\"84\", \"1342\"]."),
        // Model shape.
        ParameterSpec("hidden_size", .int, default: .int(256), doc: "Model width C."),
        ParameterSpec("intermediate_size", .int, default: .int(688), doc: "SwiGLU inner width F."),
        ParameterSpec("num_hidden_layers", .int, default: .int(4), doc: "Decoder layers."),
        ParameterSpec("num_attention_heads", .int, default: .int(8), doc: "Query heads."),
        ParameterSpec("num_key_value_heads", .int, default: .int(0), doc: "Key/value heads (0 = num_attention_heads)."),
        ParameterSpec("max_position_embeddings", .int, default: .int(512), doc: "Context length of the model (tokens)."),
        ParameterSpec("tie_word_embeddings", .bool, default: .bool(false), doc: "Share the embedding and lm_head matrices."),
        // Optimisation.
        ParameterSpec("steps", .int, required: "Optimizer steps."),
        ParameterSpec("batch_size", .int, default: .int(8), doc: "Windows per micro-batch."),
        ParameterSpec("seq_len", .int, default: .int(256), doc: "Tokens per window (<= max_position_embeddings)."),
        ParameterSpec("gradient_accumulation_steps", .int, default: .int(1), doc: "Micro-batches per optimizer step."),
        ParameterSpec("learning_rate", .float, default: .float(1e-3), doc: "Peak learning rate."),
        ParameterSpec("min_learning_rate", .float, default: .float(1e-4), doc: "Floor of the cosine decay."),
        ParameterSpec("warmup_steps", .int, default: .int(20), doc: "Linear warm-up steps."),
        ParameterSpec("weight_decay", .float, default: .float(0.1), doc: "AdamW decoupled weight decay (linear weights only)."),
        ParameterSpec("max_grad_norm", .float, default: .float(1.0), doc: "Global-norm clipping threshold (0 = off)."),
        ParameterSpec("eval_interval", .int, default: .int(50), doc: "Evaluate every N steps (and at the end)."),
        ParameterSpec("eval_batches", .int, default: .int(8), doc: "Validation batches per evaluation (0 = all)."),
        ParameterSpec("logging_steps", .int, default: .int(10), doc: "Log training metrics every N steps."),
        ParameterSpec("save_steps", .int, default: .int(100), doc: "Checkpoint every N steps (for resume)."),
        ParameterSpec("max_seconds", .float, default: .null, doc: "Optional wall-clock cap (seconds): stop early with the model so far."),
    ]

    public init() {}

    public func run(_ context: StageContext) async throws {
        context.applyComputeThreads()
        let p = context.params
        let tokenizerDirectory = try Self.tokenizerInput(context)
        let tokenizer = try BPETokenizer(directory: tokenizerDirectory)
        let corpusURL = try p.path("corpus")
        let corpus: PretrainCorpus
        if case .string(let m)? = p["manifest"] {
            corpus = try PretrainCorpus.manifest(p.resolve(m), corpus: corpusURL)
        } else {
            corpus = try PretrainCorpus.files([corpusURL])
        }
        let books = try p.strings("validation_books")
        let holdout = books.isEmpty ? try corpus.defaultHoldout(fraction: try p.double("validation_fraction"), seed: context.seed) : .ids(books)
        context.progress(0, "tokenizing \(corpus.documentIDs.count) documents")
        let data = try corpus.tokenFiles(in: context.checkpointDirectory.appendingPathComponent("data"), holdout: holdout,
                                         vocabSize: tokenizer.vocabSize, tokenizerFingerprint: tokenizer.fingerprint,
                                         separatorToken: tokenizer.eosTokenId) { (tokenizer.bosTokenId.map { [$0] } ?? []) + tokenizer.encode($0) }
        context.logger.info("token files: \(data.train.count) training tokens, \(data.validation.count) validation tokens")
        let kv = try p.int("num_key_value_heads")
        let modelConfig = LlamaConfig(
            vocabSize: tokenizer.vocabSize, hiddenSize: try p.int("hidden_size"), intermediateSize: try p.int("intermediate_size"),
            numHiddenLayers: try p.int("num_hidden_layers"), numAttentionHeads: try p.int("num_attention_heads"),
            numKeyValueHeads: kv > 0 ? kv : nil, maxPositionEmbeddings: try p.int("max_position_embeddings"),
            tieWordEmbeddings: try p.bool("tie_word_embeddings"), bosTokenId: tokenizer.bosTokenId.map(Int.init),
            eosTokenId: tokenizer.eosTokenId.map(Int.init), padTokenId: tokenizer.padTokenId.map(Int.init))
        var maxSeconds: Double? = nil
        if p["max_seconds"] != nil, p["max_seconds"] != .null { maxSeconds = try p.double("max_seconds") }
        let config = PretrainingConfig(
            steps: try p.int("steps"), batchSize: try p.int("batch_size"), seqLen: try p.int("seq_len"),
            gradientAccumulationSteps: try p.int("gradient_accumulation_steps"), learningRate: try p.double("learning_rate"),
            minLearningRate: try p.double("min_learning_rate"), warmupSteps: try p.int("warmup_steps"),
            weightDecay: try p.double("weight_decay"), maxGradNorm: try p.double("max_grad_norm"),
            evalInterval: try p.int("eval_interval"), evalBatches: try p.int("eval_batches"),
            loggingSteps: try p.int("logging_steps"), saveSteps: try p.int("save_steps"), saveTotalLimit: 1,
            seed: context.seed, maxSeconds: maxSeconds)
        let model = try LlamaModel(config: modelConfig, seed: context.seed)
        let trainer = try Pretrainer(model: model, config: config, train: data.train, validation: data.validation,
                                     checkpointRoot: context.checkpointDirectory.appendingPathComponent("checkpoints"),
                                     tokenizerDirectory: tokenizerDirectory, metrics: RecorderSink(context.metrics), logger: context.logger)
        if let step = try trainer.resume() { context.logger.info("resuming at step \(step) of \(config.steps)") }
        let result = try trainer.train { progress in
            if progress.event == .step {
                var message = "step \(progress.step)/\(progress.totalSteps)"
                if let l = progress.loss { message += String(format: " loss %.4f", l) }
                if let t = progress.tokensPerSecond { message += String(format: " %.0f tok/s", t) }
                context.progress(Double(progress.step) / Double(progress.totalSteps), message)
            }
            return !context.isCancelled
        }
        if result.stop == .requested { throw CancellationError() }
        // HF Trainer's `global_step`: the steps the model actually got, which the model card reports
        // when max_seconds stopped the run before `steps`.
        context.metrics.log(step: result.step, name: "global_step", value: Double(result.step))
        if result.stop == .timeLimit { context.metrics.markHeadline(["global_step"]) }
        try ModelDirectory.write(model: model, tokenizerDirectory: tokenizerDirectory, to: context.outputDirectory)
        try TrainerState.load(from: result.checkpoint).save(in: context.outputDirectory)
        context.progress(1, String(format: "eval_loss %.4f", result.evalLoss ?? .nan))
    }

    /// The tokenizer directory among the stage's inputs (the one `needs` stage whose artifact holds a
    /// `tokenizer.json`).
    /// - Throws: `PipelineError.parameter` when none or several inputs hold one.
    static func tokenizerInput(_ context: StageContext) throws -> URL {
        let found = context.inputs.filter {
            FileManager.default.fileExists(atPath: $0.value.appendingPathComponent("tokenizer.json").path)
        }
        guard found.count == 1, let dir = found.first?.value else {
            throw PipelineError.parameter(stage: context.stageName, name: "needs",
                                          message: found.isEmpty
                                              ? "no stage in `needs` produced a tokenizer; add the train-tokenizer stage to `needs`"
                                              : "several stages in `needs` produced a tokenizer (\(found.keys.sorted().joined(separator: ", "))); keep one")
        }
        return dir
    }
}

/// Forwards training metrics to the orchestrator's recorder.
final class RecorderSink: MetricsSink {
    let recorder: MetricsRecorder
    init(_ recorder: MetricsRecorder) { self.recorder = recorder }
    func record(step: Int, name: String, value: Double) { recorder.log(step: step, name: name, value: value) }
}
