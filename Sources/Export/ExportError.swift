import Foundation

/// Errors from exporting or importing a model.
///
/// Every case says what is wrong, where (path, tensor name or key) and how to fix it; the CLI prints
/// `description` and exits non-zero.
public enum ExportError: Error, CustomStringConvertible, Equatable {
    /// The input is not a model directory (no `config.json`, no weights, not a directory).
    case notAModel(path: String, detail: String)
    /// A model reference (`DIGEST`, `PIPELINE:STAGE`) could not be resolved to a directory.
    case unresolvedReference(reference: String, detail: String)
    /// The model directory is a model but its contents are inconsistent (config, tensor names, shapes, dtypes).
    case invalidModel(path: String, detail: String)
    /// `tokenizer.json` (or its companions) is missing or cannot be used for this export.
    case invalidTokenizer(path: String, detail: String)
    /// The LoRA adapter (`adapter_config.json`, `adapter_model.safetensors`) is invalid for its base model.
    case invalidAdapter(path: String, detail: String)
    /// The model has a LoRA adapter that a full-weight export would silently drop.
    case adapterRequiresMerge(path: String)
    /// The options do not fit together or with the model (e.g. `--quant` with `--format hf`).
    case invalidOptions(detail: String)
    /// A tensor's row length is not a multiple of the quantisation block size.
    case rowLengthNotQuantizable(tensor: String, rowLength: Int, type: String, blockSize: Int)
    /// The output path already exists and `force` was not given.
    case outputExists(path: String)
    /// Writing an output failed; nothing was left at the output path.
    case writeFailed(path: String, detail: String)

    public var description: String {
        switch self {
        case let .notAModel(path, detail):
            return "\(path) is not a model directory: \(detail). A model directory holds config.json, model.safetensors and tokenizer.json (a Hugging Face Llama layout)."
        case let .unresolvedReference(reference, detail):
            return "cannot resolve model reference '\(reference)': \(detail)"
        case let .invalidModel(path, detail):
            return "model \(path): \(detail)"
        case let .invalidTokenizer(path, detail):
            return "tokenizer \(path): \(detail)"
        case let .invalidAdapter(path, detail):
            return "LoRA adapter \(path): \(detail)"
        case let .adapterRequiresMerge(path):
            return "model \(path) has a LoRA adapter (adapter/); pass --merge to fold it into the weights, or --format peft to export the adapter alone."
        case let .invalidOptions(detail):
            return "invalid export options: \(detail)"
        case let .rowLengthNotQuantizable(tensor, rowLength, type, blockSize):
            return "tensor '\(tensor)' has rows of \(rowLength) elements, not a multiple of \(blockSize) as \(type) requires. Use --dtype f16/f32 for this model, or pass --allow-f16-fallback to store such tensors as F16 (what llama.cpp's quantizer does)."
        case let .outputExists(path):
            return "output \(path) already exists; choose another --out or pass --force to replace it."
        case let .writeFailed(path, detail):
            return "could not write \(path): \(detail)"
        }
    }
}
