// Typed errors of the Llama model (checkpoint and input problems). Safetensors-level problems
// (truncated file, missing tensor, wrong shape, wrong dtype) are `SafeTensorsError`s naming the tensor;
// config problems are `LlamaConfigError`s naming the key.

// MARK: - LlamaError

/// Errors loading a checkpoint or validating model input.
public enum LlamaError: Error, CustomStringConvertible, Equatable {
    /// The checkpoint holds a tensor the model does not have (e.g. a checkpoint of another architecture).
    case unexpectedTensor(name: String, path: String)
    /// The model input is inconsistent (what is wrong and where).
    case invalidInput(String)
    /// A file could not be written or read.
    case io(path: String, detail: String)

    public var description: String {
        switch self {
        case let .unexpectedTensor(name, path):
            return "tensor '\(name)' in \(path) is not a parameter of this Llama model; the checkpoint belongs to another architecture or config"
        case let .invalidInput(what): return "invalid model input: \(what)"
        case let .io(path, detail): return "\(path): \(detail)"
        }
    }
}
