import Foundation
import Llama
import Logging
import Pipeline
import Retrieval
import Tensors
import Tokenization

// MARK: - rag-inject

/// Stage 2: knowledge injection by retrieval (RAG, Lewis et al. 2020; RA-DIT LM fine-tuning, Lin et al.
/// 2023 sec. 2.2).
///
/// Reads the model directory of its one `needs` stage (a pretrain artifact: HF layout with
/// `tokenizer.json`), indexes `knowledge` (SQLite FTS5, chunked with the model's tokenizer), evaluates
/// the input model closed-book and open-book, fine-tunes it on RA-DIT examples (retrieved /
/// distractor-only / closed-book prompts, loss on the answer only), evaluates the tuned model, and
/// writes the tuned model (HF layout) with the index in `knowledge/` and `rag_inject.json` (parameters,
/// metrics, per-question predictions).
///
/// Metrics: `loss`, `learning_rate`, `grad_norm` per step; at step 0 `eval/base_closed_book_exact_match`,
/// `eval/base_closed_book_f1`, `eval/base_open_book_exact_match`, `eval/base_open_book_f1` (input model)
/// and `eval/recall_at_k`, `eval/recall_at_1`, `eval/recall_at_3`, `eval/recall_at_5` (retrieval only: an
/// answer inside one of the top k chunks, whatever top_k the prompts use); after the last step
/// `eval/closed_book_exact_match`, `eval/closed_book_f1`, `eval/open_book_exact_match`,
/// `eval/open_book_f1` (tuned model). EM and F1 are SQuAD v1.1's, in [0, 1].
public struct RAGInjectStage: StageKind {
    public static let name = "rag-inject"
    public static let version = "2"
    public static let summary = "Index a knowledge base (FTS5/BM25) and fine-tune the model to answer from retrieved passages (RA-DIT); closed/open-book EM/F1, recall@k."
    public static let headlineMetrics = ["eval/open_book_exact_match", "eval/closed_book_exact_match", "eval/recall_at_k"]

    public static let parameters: ParameterSchema = [
        ParameterSpec("knowledge", .path, required: "JSONL knowledge base: one {\"id\", \"title\", \"text\"} object per line."),
        ParameterSpec("train_questions", .path, required: "QA JSONL ({\"id\", \"question\", \"answer\"}) used for training (all of it, or the part not held out by eval_fraction)."),
        ParameterSpec("eval_questions", .path, default: .null, doc: "QA JSONL for evaluation; when absent, eval_fraction of train_questions is held out (split by id)."),
        ParameterSpec("eval_fraction", .float, default: .float(0.2), doc: "Share of train_questions held out for evaluation when eval_questions is absent, in [0, 1)."),
        ParameterSpec("top_k", .int, default: .int(3), doc: "Passages per open-book prompt, and the k of recall@k."),
        ParameterSpec("chunk_size", .int, default: .int(32), doc: "Chunk size in tokens of the model's tokenizer; top_k chunks + question + answer must fit max_position_embeddings."),
        ParameterSpec("chunk_overlap", .int, default: .int(8), doc: "Tokens shared by neighbouring chunks."),
        ParameterSpec("chunk_at_fields", .bool, default: .bool(false),
                      doc: "Also start a chunk (no overlap) at every unindented line, so each `Field:` of a Factbook-style document is a passage of its own."),
        ParameterSpec("mix", .map, default: .map(["retrieved": .float(0.7), "distractor_only": .float(0.15), "closed_book": .float(0.15)]),
                      doc: "RA-DIT shares of training prompts: retrieved (top k, gold swapped in), distractor_only, closed_book, and counterfactual (retrieved, with the answer in the passages and the target replaced: capitalised words by random capitalised words of the knowledge base, other answers by another question's answer of the same kind; Longpre et al. 2021; default 0)."),
        ParameterSpec("field_questions", .int, default: .int(0),
                      doc: "Synthetic \"What is the <field> of <entity>?\" questions from the knowledge base's `Field: value` lines added to each epoch (retrieved passages, gold found); answers of held-out questions are excluded. 0: none."),
        ParameterSpec("steps", .int, default: .int(300), doc: "Optimizer steps."),
        ParameterSpec("batch_size", .int, default: .int(16), doc: "Sequences per step."),
        ParameterSpec("learning_rate", .float, default: .float(1e-3), doc: "Peak learning rate (cosine to 10%, warm-up warmup_steps)."),
        ParameterSpec("warmup_steps", .int, default: .int(20), doc: "Linear warm-up steps."),
        ParameterSpec("weight_decay", .float, default: .float(0.0), doc: "AdamW weight decay."),
        ParameterSpec("max_grad_norm", .float, default: .float(1.0), doc: "Gradient clipping threshold (global L2 norm)."),
        ParameterSpec("max_eval_questions", .int, default: .int(200), doc: "Evaluation questions at most (the first ones of the eval set)."),
        ParameterSpec("max_new_tokens", .int, default: .int(24), doc: "Answer tokens generated at most in evaluation."),
        ParameterSpec("eval_base", .bool, default: .bool(true), doc: "Also evaluate the input model (eval/base_* metrics)."),
    ]

    public init() {}

    public func run(_ context: StageContext) async throws {
        context.applyComputeThreads()
        let p = context.params
        let logger = context.logger
        let modelDirectory = try Self.modelInput(context)
        let topK = try p.int("top_k")
        let steps = try p.int("steps")

        // Model and tokenizer.
        let model = try LlamaModel.load(directory: modelDirectory)
        let tokenizer = try BPETokenizer(directory: modelDirectory)
        let maxLength = model.config.maxPositionEmbeddings

        // Index, chunked with the model's tokenizer.
        let knowledgeDirectory = context.outputDirectory.appendingPathComponent(RAGModel.knowledgeDirectoryName)
        try FileManager.default.createDirectory(at: knowledgeDirectory, withIntermediateDirectories: true)
        let chunkSize = try p.int("chunk_size")
        let estimate = topK * (chunkSize + 16) + 48
        if estimate > maxLength {
            logger.warning("top_k chunks may not fit the context; passages will be cut from the left", metadata: [
                "top_k": "\(topK)", "chunk_size": "\(chunkSize)", "estimated_prompt_tokens": "\(estimate)",
                "max_position_embeddings": "\(maxLength)",
            ])
        }
        context.progress(0, "indexing the knowledge base")
        let chunker = try Chunker(
            options: ChunkingOptions(chunkSize: chunkSize, overlap: try p.int("chunk_overlap"), atFields: try p.bool("chunk_at_fields")),
            tokenizer: RAGModel.chunkTokenizer(tokenizer))
        let index = try KnowledgeIndex.build(
            knowledgeBase: try p.path("knowledge"), chunker: chunker,
            at: knowledgeDirectory.appendingPathComponent(KnowledgeIndex.fileName), logger: logger)
        let rag = try RAGModel(model: model, tokenizer: tokenizer, index: index)

        // Questions.
        let (train, evalAll) = try Self.questions(p, seed: context.seed)
        let evalSet = Array(evalAll.prefix(max(0, try p.int("max_eval_questions"))))
        logger.info("rag-inject questions", metadata: ["train": "\(train.count)", "eval": "\(evalSet.count)"])

        // Evaluation of the input model and retrieval recall.
        let maxNewTokens = try p.int("max_new_tokens")
        var report: [String: Any] = ["train_questions": train.count, "eval_questions": evalSet.count]
        let recall = try QAEvaluator.recall(evalSet, retriever: index, ks: [1, 3, 5, topK])
        context.metrics.log(step: 0, name: "eval/recall_at_k", value: recall[topK] ?? 0)
        for k in [1, 3, 5] { context.metrics.log(step: 0, name: "eval/recall_at_\(k)", value: recall[k] ?? 0) }
        if try p.bool("eval_base") {
            context.progress(0.02, "evaluating the input model")
            for mode in [QAEvaluationMode.closedBook, .openBook] {
                try context.checkCancellation()
                let e = try rag.evaluate(evalSet, mode: mode, topK: topK, maxNewTokens: maxNewTokens)
                context.metrics.log(step: 0, name: "eval/base_\(mode.rawValue)_exact_match", value: e.result.exactMatch)
                context.metrics.log(step: 0, name: "eval/base_\(mode.rawValue)_f1", value: e.result.f1)
            }
        }

        // Fine-tuning.
        let template = rag.template
        let mixMap = try p.map("mix")
        func share(_ key: String) throws -> Double {
            switch mixMap[key] {
            case .none: return 0
            case .float(let d)?: return d
            case .int(let i)?: return Double(i)
            case let other?: throw PipelineError.parameter(stage: context.stageName, name: "mix.\(key)", message: "expected a number, found \(other)")
            }
        }
        for key in mixMap.keys where !["retrieved", "distractor_only", "closed_book", "counterfactual"].contains(key) {
            throw PipelineError.parameter(stage: context.stageName, name: "mix.\(key)",
                                          message: "unknown share; use retrieved, distractor_only, closed_book, counterfactual")
        }
        let mix = RAGExampleMix(retrieved: try share("retrieved"), distractorOnly: try share("distractor_only"),
                                closedBook: try share("closed_book"), counterfactual: try share("counterfactual"))
        do { try mix.validate() } catch {
            throw PipelineError.parameter(stage: context.stageName, name: "mix", message: "\(error)")
        }
        let config = RAGFineTuningConfig(
            steps: steps, batchSize: try p.int("batch_size"), learningRate: try p.double("learning_rate"),
            warmupSteps: try p.int("warmup_steps"), minLearningRateRatio: 0.1, weightDecay: try p.double("weight_decay"),
            maxGradNorm: try p.double("max_grad_norm"), maxLength: maxLength, seed: context.seed)
        let tuner = try RAGFineTuner(model: model, tokenizer: tokenizer, template: template, config: config, logger: logger)
        let seed = context.seed
        let fieldQuestionCount = try p.int("field_questions")
        guard fieldQuestionCount >= 0 else {
            throw PipelineError.parameter(stage: context.stageName, name: "field_questions", message: "expected 0 or more, found \(fieldQuestionCount)")
        }
        let documents = fieldQuestionCount > 0 || mix.counterfactual > 0 ? try KnowledgeBase.load(contentsOf: try p.path("knowledge")) : []
        let fieldQuestions = fieldQuestionCount == 0 ? [] : FieldQuestionGenerator.questions(from: documents, excluding: evalAll)
        // Counterfactual names: capitalised words of the knowledge base, none from a held-out answer.
        let names = mix.counterfactual > 0 ? CounterfactualSubstitution.names(in: documents, excluding: evalAll) : []
        if mix.counterfactual > 0 { report["counterfactual_names"] = names.count }
        if fieldQuestionCount > 0 {
            logger.info("field questions", metadata: ["available": "\(fieldQuestions.count)", "per_epoch": "\(min(fieldQuestionCount, fieldQuestions.count))"])
            report["field_questions_available"] = fieldQuestions.count
        }
        context.progress(0.1, "fine-tuning")
        let summary = try tuner.train(
            makeEpoch: { epoch in
                var builder = try RADITExampleBuilder(
                    retriever: index, template: template, topK: topK, mix: mix, searchDepth: max(30, topK),
                    seed: seed &+ UInt64(epoch))
                builder.counterfactualNames = names
                var examples = try builder.build(train)
                if !fieldQuestions.isEmpty {
                    // Only passages holding the answer: a synthetic question is there to be read, not guessed.
                    // The counterfactual share applies to them too (substitutes drawn among their answers).
                    var generator = SplitMix64(state: seed &+ UInt64(epoch) &+ 0x4649_454C_44)
                    let sample = Array(fieldQuestions.shuffled(using: &generator).prefix(fieldQuestionCount))
                    var reader = try RADITExampleBuilder(
                        retriever: index, template: template, topK: topK, mix: RAGExampleMix(retrieved: mix.counterfactual > 0 ? mix.retrieved : 1, distractorOnly: 0, closedBook: 0,
                                                                     counterfactual: mix.counterfactual),
                        searchDepth: max(30, topK), seed: seed &+ UInt64(epoch))
                    reader.counterfactualNames = names
                    examples += try reader.build(sample).filter(\.containsAnswer)
                }
                return examples
            },
            log: { step, values in
                for (name, value) in values { context.metrics.log(step: step, name: name, value: value) }
                context.progress(0.1 + 0.75 * Double(step) / Double(steps), "step \(step)/\(steps)")
            },
            shouldStop: { context.isCancelled })
        report["fine_tuning"] = ["steps": summary.steps, "initial_loss": summary.initialLoss, "final_loss": summary.finalLoss,
                                 "sequences": summary.sequences, "answer_tokens": summary.answerTokens,
                                 "truncated_sequences": summary.truncatedSequences]

        // Evaluation of the tuned model.
        context.progress(0.85, "evaluating the tuned model")
        var predictions: [String: Any] = [:]
        for mode in [QAEvaluationMode.closedBook, .openBook] {
            try context.checkCancellation()
            let e = try rag.evaluate(evalSet, mode: mode, topK: topK, maxNewTokens: maxNewTokens)
            context.metrics.log(step: steps, name: "eval/\(mode.rawValue)_exact_match", value: e.result.exactMatch)
            context.metrics.log(step: steps, name: "eval/\(mode.rawValue)_f1", value: e.result.f1)
            predictions[mode.rawValue] = try JSONSerialization.jsonObject(with: JSONEncoder().encode(e.predictions))
        }

        // Artifact: tuned model (HF layout, tokenizer files copied from the input) + knowledge/ + report.
        try Self.copyTokenizerFiles(from: modelDirectory, to: context.outputDirectory)
        try model.save(directory: context.outputDirectory)
        report["metrics"] = context.metrics.last
        report["predictions"] = predictions
        let data = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: context.outputDirectory.appendingPathComponent("rag_inject.json"), options: .atomic)
        context.progress(1, "done")
    }

    // MARK: Helpers

    /// The model directory: the only `needs` artifact, or the one named `pretrain`.
    static func modelInput(_ context: StageContext) throws -> URL {
        if context.inputs.count == 1, let only = context.inputs.values.first { return only }
        return try context.input("pretrain")
    }

    /// (train, eval) questions from `train_questions` and `eval_questions`, or a split by id.
    static func questions(_ p: ResolvedParameters, seed: UInt64) throws -> (train: [QAExample], eval: [QAExample]) {
        let trainFile = try QADataset.load(contentsOf: try p.path("train_questions"))
        if case .string(let evalPath)? = p["eval_questions"] {
            let evalFile = try QADataset.load(contentsOf: p.resolve(evalPath))
            let evalIDs = Set(evalFile.map(\.id))
            return (trainFile.filter { !evalIDs.contains($0.id) }, evalFile)
        }
        return try QADataset.split(trainFile, evalFraction: try p.double("eval_fraction"), seed: seed)
    }

    /// Copies every regular file of the input model directory except the weights and config (tokenizer
    /// files, generation config) into the artifact.
    static func copyTokenizerFiles(from source: URL, to destination: URL) throws {
        let fm = FileManager.default
        for name in try fm.contentsOfDirectory(atPath: source.path)
        where !["model.safetensors", "config.json", RAGModel.knowledgeDirectoryName].contains(name) && !name.hasPrefix(".") {
            var isDirectory: ObjCBool = false
            let from = source.appendingPathComponent(name)
            guard fm.fileExists(atPath: from.path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            let to = destination.appendingPathComponent(name)
            if fm.fileExists(atPath: to.path) { try fm.removeItem(at: to) }
            try fm.copyItem(at: from, to: to)
        }
    }
}
