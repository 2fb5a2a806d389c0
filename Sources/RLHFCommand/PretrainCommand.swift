import ArgumentParser
import Foundation
import Llama
import Logging
import Tensors
import Tokenization
import Training

/// `rlhf pretrain`: causal-LM pretraining of a Llama from scratch, outside pipelines.
///
/// Output layout (as the HF Trainer's `output_dir`): the final model directory at `--out` itself,
/// `checkpoint-STEP/` directories for resume, `data/` with the cached token files.
struct PretrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain",
        abstract: "Pretrain a Llama on a text corpus (random windows, AdamW, cosine schedule, exact resume).",
        discussion: """
            Writes a Hugging Face model directory (config.json, model.safetensors, tokenizer files,
            generation_config.json) to --out, with checkpoint-STEP/ directories beside it. --resume continues
            bit-exactly from the newest checkpoint (same thread count). On a terminal a progress line is shown;
            otherwise one logfmt (or --json) line per logging step.
            """)

    // MARK: Data
    @Option(help: ArgumentHelp("Tokenizer directory (tokenizer.json), e.g. from `rlhf tokenizer train`.", valueName: "DIR"))
    var tokenizer: String
    @Option(help: ArgumentHelp("UTF-8 text corpus. With --manifest: the joined corpus.txt the manifest describes.", valueName: "FILE"))
    var corpus: String
    @Option(help: ArgumentHelp("Gutenberg manifest.tsv: hold out whole books for validation.", valueName: "TSV"))
    var manifest: String?
    @Option(help: "Fraction of documents held out for validation.")
    var validationFraction: Double = 0.1
    @Option(help: ArgumentHelp("Comma-separated document ids to hold out (overrides --validation-fraction).", valueName: "IDS"))
    var validationBooks: String?
    @Option(help: ArgumentHelp("Output directory (model at its root, checkpoint-STEP/ beside).", valueName: "DIR"))
    var out: String
    @Flag(help: "Continue from the newest checkpoint in --out.")
    var resume = false
    @Flag(help: "Also save checkpoint-0 (the initial weights, resumable) before the first step, e.g. for a peer run from the same weights (benchmarks/pretrain_parity.py).")
    var saveInitialCheckpoint = false

    // MARK: Model shape
    @Option var hiddenSize: Int = 256
    @Option var intermediateSize: Int = 688
    @Option var numHiddenLayers: Int = 4
    @Option var numAttentionHeads: Int = 8
    @Option(help: "Key/value heads (default: --num-attention-heads).")
    var numKeyValueHeads: Int?
    @Option var maxPositionEmbeddings: Int = 512
    @Flag var tieWordEmbeddings = false

    // MARK: Optimisation
    @Option(help: "Optimizer steps.") var steps: Int = 1000
    @Option(help: "Windows per micro-batch.") var batchSize: Int = 8
    @Option(help: "Tokens per window.") var seqLen: Int = 256
    @Option var gradientAccumulationSteps: Int = 1
    @Option var learningRate: Double = 1e-3
    @Option var minLearningRate: Double = 1e-4
    @Option var warmupSteps: Int = 20
    @Option var weightDecay: Double = 0.1
    @Option var maxGradNorm: Double = 1.0
    @Option(help: "Evaluate every N steps (and at the end).") var evalInterval: Int = 50
    @Option(help: "Validation batches per evaluation (0 = all).") var evalBatches: Int = 8
    @Option(help: "Log every N steps.") var loggingSteps: Int = 10
    @Option(help: "Checkpoint every N steps.") var saveSteps: Int = 100
    @Option(help: "Checkpoints kept.") var saveTotalLimit: Int = 2
    @Option(help: "Seed of the initial weights and of the data order.") var seed: UInt64 = 1337
    @Option(help: "Stop (with a checkpoint) after this many seconds.") var maxSeconds: Double?
    @Option(help: "Compute threads (default: $RLHF_NUM_THREADS, else the number of cores). Results are bit-identical at any count.")
    var threads: Int = ComputeThreads.defaultCount
    @Flag(help: "Log lines as JSON instead of logfmt (non-terminal output).") var json = false

    func run() throws {
        do { try train() } catch let e as ExitCode { throw e } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }

    func train() throws {
        BLAS.setThreads(threads)
        var logger = Logger(label: "rlhf.pretrain")
        logger.logLevel = .warning
        let outDir = URL(fileURLWithPath: out).standardizedFileURL
        let tokenizerDir = URL(fileURLWithPath: tokenizer).standardizedFileURL
        let existing = CheckpointDirectory.latest(in: outDir)
        if existing != nil, !resume {
            throw TrainingError.invalidConfiguration(
                field: "--out", reason: "\(outDir.path) already holds \(existing!.url.lastPathComponent); pass --resume to continue it or choose another --out")
        }
        let tok = try BPETokenizer(directory: tokenizerDir)
        let corpusURL = URL(fileURLWithPath: corpus)
        let docs = try manifest.map { try PretrainCorpus.manifest(URL(fileURLWithPath: $0), corpus: corpusURL) }
            ?? PretrainCorpus.files([corpusURL])
        let holdout: HoldoutSelection = try validationBooks.map { .ids($0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }) }
            ?? docs.defaultHoldout(fraction: validationFraction, seed: seed)
        let modelConfig = LlamaConfig(
            vocabSize: tok.vocabSize, hiddenSize: hiddenSize, intermediateSize: intermediateSize, numHiddenLayers: numHiddenLayers,
            numAttentionHeads: numAttentionHeads, numKeyValueHeads: numKeyValueHeads, maxPositionEmbeddings: maxPositionEmbeddings,
            tieWordEmbeddings: tieWordEmbeddings, bosTokenId: tok.bosTokenId.map(Int.init), eosTokenId: tok.eosTokenId.map(Int.init),
            padTokenId: tok.padTokenId.map(Int.init))
        try modelConfig.validate()
        let config = PretrainingConfig(
            steps: steps, batchSize: batchSize, seqLen: seqLen, gradientAccumulationSteps: gradientAccumulationSteps,
            learningRate: learningRate, minLearningRate: minLearningRate, warmupSteps: warmupSteps, weightDecay: weightDecay,
            maxGradNorm: maxGradNorm, evalInterval: evalInterval, evalBatches: evalBatches, loggingSteps: loggingSteps,
            saveSteps: saveSteps, saveTotalLimit: saveTotalLimit, seed: seed, maxSeconds: maxSeconds)
        // Everything that can be checked without writing is checked before the first write.
        try config.validate(maxPositionEmbeddings: modelConfig.maxPositionEmbeddings)
        if let existing { try Pretrainer.checkCompatible(checkpoint: existing.url, model: modelConfig, config: config) }

        let interactive = isatty(STDOUT_FILENO) == 1
        if interactive { print("tokenizing \(docs.documentIDs.count) documents...") }
        let data = try docs.tokenFiles(in: outDir.appendingPathComponent("data"), holdout: holdout, vocabSize: tok.vocabSize,
                                       tokenizerFingerprint: tok.fingerprint, separatorToken: tok.eosTokenId) { (tok.bosTokenId.map { [$0] } ?? []) + tok.encode($0) }
        let model = try LlamaModel(config: modelConfig, seed: seed)
        let sink = InMemoryMetricsSink()
        let trainer = try Pretrainer(model: model, config: config, train: data.train, validation: data.validation,
                                     checkpointRoot: outDir, tokenizerDirectory: tokenizerDir, metrics: sink, logger: logger)
        if resume, let step = try trainer.resume() { print("resumed from checkpoint-\(step)") }
        if saveInitialCheckpoint, trainer.state.globalStep == 0 {
            let url = try trainer.saveCheckpoint()
            if interactive { print("saved \(url.lastPathComponent) (initial weights)") }
        }
        if interactive {
            print("train \(data.train.count) tokens, validation \(data.validation.count) tokens; \(model.parameters.reduce(0) { $0 + $1.count }) parameters")
        }
        var printed = 0
        let result = try trainer.train { p in
            switch p.event {
            case .step:
                if interactive {
                    let line = ProgressLine(step: p.step, totalSteps: p.totalSteps, loss: p.loss, learningRate: p.learningRate,
                                            tokensPerSecond: p.tokensPerSecond, elapsedSeconds: p.elapsedSeconds, startStep: p.startStep)
                    FileHandle.standardOutput.write(Data("\r\u{1B}[K\(line.text)".utf8))
                } else {
                    let records = sink.records
                    let fresh = records[printed...].filter { $0.step == p.step }
                    if !fresh.isEmpty {
                        print(StructuredLogLine.format(step: p.step, metrics: fresh.map { ($0.name, $0.value) }, format: json ? .json : .logfmt))
                        fflush(stdout)
                    }
                    printed = records.count
                }
            case .evaluation:
                let l = p.evalLoss ?? .nan
                if interactive {
                    print("\r\u{1B}[Kstep \(p.step): eval_loss \(String(format: "%.4f", l)) perplexity \(String(format: "%.2f", exp(l)))")
                } else {
                    print(StructuredLogLine.format(step: p.step, metrics: [("eval_loss", l), ("perplexity", exp(l))], format: json ? .json : .logfmt))
                    fflush(stdout)
                }
                printed = sink.records.count
            case .checkpoint(let url):
                if interactive { print("\r\u{1B}[Ksaved \(url.lastPathComponent)") }
            }
            return true
        }
        try ModelDirectory.write(model: model, tokenizerDirectory: tokenizerDir, to: outDir)
        let summary = String(format: "%@ at step %d: eval_loss %.4f perplexity %.2f, %.0f tokens/s; model in %@",
                             result.stop.rawValue, result.step, result.evalLoss ?? .nan, result.perplexity ?? .nan,
                             result.tokensPerSecond, outDir.path)
        if interactive { print("\r\u{1B}[K" + summary) } else if json {
            print(StructuredLogLine.format(step: result.step, metrics: [("eval_loss", result.evalLoss ?? .nan),
                                                                        ("perplexity", result.perplexity ?? .nan),
                                                                        ("tokens_per_second", result.tokensPerSecond)], format: .json))
        } else {
            print(summary)
        }
    }
}
