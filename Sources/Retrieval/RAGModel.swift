import Foundation
import Llama
import Tokenization

// MARK: - A model with its knowledge index

/// A causal LM, its tokenizer and (optionally) a knowledge index chunked with that tokenizer: what
/// `rlhf ask`, `rlhf rag eval` and the `rag-inject` stage's evaluation use.
public final class RAGModel {
    /// Name of the knowledge subdirectory of a `rag-inject` artifact.
    public static let knowledgeDirectoryName = "knowledge"

    /// The model.
    public let model: LlamaModel
    /// The model's tokenizer (from the model directory).
    public let tokenizer: BPETokenizer
    /// The index, nil for closed-book use.
    public let index: KnowledgeIndex?
    /// The prompt format (the one the stage trains with).
    public let template: RAGPromptTemplate

    /// Wraps loaded parts.
    /// - Throws: `RetrievalError.tokenizerMismatch` when `index` was chunked with another tokenizer.
    public init(model: LlamaModel, tokenizer: BPETokenizer, index: KnowledgeIndex?, template: RAGPromptTemplate = RAGPromptTemplate()) throws {
        try index?.verifyTokenizer(fingerprint: tokenizer.fingerprint)
        self.model = model
        self.tokenizer = tokenizer
        self.index = index
        self.template = template
    }

    /// Loads a Hugging Face model directory (config, weights, `tokenizer.json`) and a knowledge index.
    /// - Parameters:
    ///   - modelDirectory: the model directory.
    ///   - knowledge: a `rag-inject` artifact (its `knowledge/` is used), a knowledge directory holding
    ///     `index.sqlite`, or the index file; nil for closed book.
    /// - Throws: `LlamaConfigError`/`SafeTensorsError`/`LlamaError` for the model, `TokenizerError` for the
    ///   tokenizer, `RetrievalError.invalidIndex` for the index, `.tokenizerMismatch` when the index was
    ///   built with another tokenizer than the model's.
    public static func load(modelDirectory: URL, knowledge: URL?) throws -> RAGModel {
        let model = try LlamaModel.load(directory: modelDirectory)
        let tokenizer = try BPETokenizer(directory: modelDirectory)
        let index = try knowledge.map { try KnowledgeIndex(contentsOf: indexFile(knowledge: $0)) }
        return try RAGModel(model: model, tokenizer: tokenizer, index: index)
    }

    /// The index file for `--knowledge`: `<dir>/knowledge/index.sqlite` for an artifact directory,
    /// `<dir>/index.sqlite` for a knowledge directory, the path itself otherwise.
    public static func indexFile(knowledge url: URL) -> URL {
        let fm = FileManager.default
        let nested = url.appendingPathComponent(knowledgeDirectoryName).appendingPathComponent(KnowledgeIndex.fileName)
        if fm.fileExists(atPath: nested.path) { return nested }
        return KnowledgeIndex.indexURL(url.path)
    }

    /// A `ChunkTokenizer` for building an index this model can read (fingerprint = the tokenizer's).
    public static func chunkTokenizer(_ tokenizer: BPETokenizer) -> ClosureTokenizer {
        ClosureTokenizer(fingerprint: tokenizer.fingerprint, tokenize: { tokenizer.encode($0) })
    }

    /// Greedy completions of prompts (see `GreedyDecoder`).
    public func generate(_ prompts: [String], maxNewTokens: Int) -> [String] {
        GreedyDecoder(model: model, tokenizer: tokenizer, maxNewTokens: maxNewTokens).generate(prompts)
    }

    /// Answers one question: the top k passages (open book when an index is loaded and `topK > 0`) and
    /// the answer read from a greedy generation.
    /// - Throws: `RetrievalError.emptyQuestion`; index errors.
    public func ask(_ question: String, topK: Int, maxNewTokens: Int = 32) throws -> (passages: [RetrievedChunk], answer: String) {
        guard !question.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw RetrievalError.emptyQuestion(id: "<question>")
        }
        let passages = topK > 0 ? try index?.search(question, topK: topK) ?? [] : []
        let prompt = passages.isEmpty
            ? template.closedBookPrompt(question: question) : template.prompt(question: question, passages: passages)
        let generation = generate([prompt], maxNewTokens: maxNewTokens)[0]
        return (passages, template.extractAnswer(generation))
    }

    /// EM, F1 (SQuAD v1.1) and recall@k of this model on QA pairs.
    /// - Parameters:
    ///   - examples: QA pairs.
    ///   - mode: closed or open book (open book needs the index).
    ///   - topK: passages per prompt, k of recall@k.
    ///   - batchSize: prompts per generation batch.
    ///   - maxNewTokens: answer tokens at most.
    ///   - progress: (done, total).
    /// - Throws: `RetrievalError.invalidParameter` (open book without an index, bad k), `.emptyQuestion`.
    public func evaluate(
        _ examples: [QAExample], mode: QAEvaluationMode, topK: Int, batchSize: Int = 16, maxNewTokens: Int = 24,
        progress: ((Int, Int) -> Void)? = nil
    ) throws -> QAEvaluation {
        let evaluator = try QAEvaluator(template: template, retriever: index, topK: topK, batchSize: batchSize)
        return try evaluator.evaluate(
            examples, mode: mode, generate: { self.generate($0, maxNewTokens: maxNewTokens) }, progress: progress)
    }
}
