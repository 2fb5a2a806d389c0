import Foundation
import Llama

/// Where a model came from, for its model card: the pipeline's stages, their parameters, the data
/// they read and the headline metrics. The pipeline's `export` stage fills it from its run records.
public struct ModelLineage: Codable, Equatable, Sendable {
    /// One stage run that produced (part of) the model.
    public struct Stage: Codable, Equatable, Sendable {
        /// Stage name in the pipeline, e.g. `ppo`.
        public var name: String
        /// Stage kind, e.g. `pretrain`, `rag-inject`, `reward-model`, `ppo`.
        public var kind: String
        /// Digest of the artifact the stage produced.
        public var artifactDigest: String?
        /// Resolved parameters, as canonical strings (`"klCoef": "0.05"`).
        public var parameters: [String: String]
        /// What the parameters alone do not tell, e.g. `stopped by max_seconds at step 137 of 600`.
        public var note: String?

        /// Creates a stage record (see the properties).
        public init(name: String, kind: String, artifactDigest: String? = nil, parameters: [String: String] = [:], note: String? = nil) {
            self.name = name
            self.kind = kind
            self.artifactDigest = artifactDigest
            self.parameters = parameters
            self.note = note
        }
    }

    /// Pipeline name or file.
    public var pipeline: String?
    /// Stages in execution order.
    public var stages: [Stage]
    /// Data sets read, name → SHA-256 digest (`"tinyshakespeare": "86c4…"`).
    public var dataDigests: [String: String]
    /// Headline metrics, public names → value (`eval_loss`, `objective/kl`, `closed_book_accuracy`).
    public var metrics: [String: Double]
    /// The model the pipeline started from (an `import-hf` directory or a hub name), if any.
    public var baseModel: String?

    /// Creates a lineage record (see the properties).
    public init(pipeline: String? = nil, stages: [Stage] = [], dataDigests: [String: String] = [:],
                metrics: [String: Double] = [:], baseModel: String? = nil) {
        self.pipeline = pipeline
        self.stages = stages
        self.dataDigests = dataDigests
        self.metrics = metrics
        self.baseModel = baseModel
    }
}

/// Renders the `README.md` model card of an exported model (Hugging Face card layout: YAML front
/// matter, then Markdown).
public enum ModelCard {
    /// The card's Markdown.
    /// - Parameters:
    ///   - name: the model's display name.
    ///   - config: its hyper-parameters.
    ///   - parameterCount: number of weights.
    ///   - format: what the directory holds (`"hf"`, `"peft"`, `"gguf"`).
    ///   - dtype: storage type (`"F32"`, `"Q8_0"`…).
    ///   - lineage: where it came from (nil: unknown, said so in the card).
    ///   - adapter: the LoRA config for a PEFT export.
    public static func markdown(name: String, config: LlamaConfig, parameterCount: Int, format: String, dtype: String,
                                lineage: ModelLineage?, adapter: PEFTAdapterConfig? = nil) -> String {
        var s = "---\n"
        s += "library_name: \(format == "peft" ? "peft" : "transformers")\n"
        s += "pipeline_tag: text-generation\n"
        s += "tags:\n- llama\n- rlhf\n"
        if let base = adapter?.baseModelNameOrPath ?? lineage?.baseModel { s += "base_model: \(yamlScalar(base))\n" }
        s += "---\n\n"
        s += "# \(name)\n\n"
        s += "A Llama-architecture causal language model exported by `rlhf export --format \(format)`.\n\n"
        s += "## Model\n\n| | |\n|---|---|\n"
        s += "| architecture | `LlamaForCausalLM` |\n"
        s += "| parameters | \(parameterCount) |\n"
        s += "| layers | \(config.numHiddenLayers) |\n"
        s += "| hidden size | \(config.hiddenSize) |\n"
        s += "| intermediate size | \(config.intermediateSize) |\n"
        s += "| attention heads (KV heads) | \(config.numAttentionHeads) (\(config.numKeyValueHeads)) |\n"
        s += "| vocabulary | \(config.vocabSize) tokens |\n"
        s += "| context length | \(config.maxPositionEmbeddings) tokens |\n"
        s += "| storage | \(dtype) |\n"
        if let a = adapter {
            s += "| LoRA | r \(a.r), alpha \(formatNumber(a.loraAlpha)), \(a.useRslora ? "rsLoRA " : "")on \(a.targetModules.joined(separator: ", ")) |\n"
        }
        s += "\n## Lineage\n\n"
        if let l = lineage {
            if let p = l.pipeline { s += "Pipeline: `\(p)`\n\n" }
            if let b = l.baseModel { s += "Started from: `\(b)`\n\n" }
            if !l.stages.isEmpty {
                s += "| stage | kind | artifact | parameters |\n|---|---|---|---|\n"
                for st in l.stages {
                    let params = st.parameters.keys.sorted().map { "\($0)=\(st.parameters[$0] ?? "")" }.joined(separator: ", ")
                    s += "| \(st.name) | \(st.kind) | \(st.artifactDigest.map { "`\($0.prefix(16))`" } ?? "") | \(escapeCell(params)) |\n"
                }
                s += "\n"
                for st in l.stages { if let note = st.note { s += "Note on `\(st.name)`: \(note).\n\n" } }
            }
            if !l.dataDigests.isEmpty {
                s += "Data (SHA-256):\n\n"
                for k in l.dataDigests.keys.sorted() { s += "- \(k): `\(l.dataDigests[k] ?? "")`\n" }
                s += "\n"
            }
            if !l.metrics.isEmpty {
                s += "| metric | value |\n|---|---|\n"
                for k in l.metrics.keys.sorted() { s += "| `\(k)` | \(formatNumber(l.metrics[k] ?? .nan)) |\n" }
                s += "\n"
            }
        } else {
            s += "Not recorded (exported from a model directory without pipeline records).\n\n"
        }
        s += "## Use\n\n"
        switch format {
        case "peft":
            s += "```python\nfrom transformers import AutoModelForCausalLM\nfrom peft import PeftModel\nbase = AutoModelForCausalLM.from_pretrained(BASE_DIR)\nmodel = PeftModel.from_pretrained(base, ADAPTER_DIR)\n```\n"
        default:
            s += "```python\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\nmodel = AutoModelForCausalLM.from_pretrained(MODEL_DIR)\ntokenizer = AutoTokenizer.from_pretrained(MODEL_DIR)\n```\n"
        }
        return s
    }

    static func formatNumber(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e15 { return String(Int(v)) }
        return String(format: "%.6g", v)
    }

    static func escapeCell(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }

    static func yamlScalar(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
