import Foundation

/// Errors from reading or writing a safetensors file.
///
/// Every case names the file or tensor involved so the message tells the user what to fix.
public enum SafeTensorsError: Error, CustomStringConvertible, Equatable {
    /// The file is shorter than its header or a tensor's byte range says.
    case truncated(path: String, detail: String)
    /// The JSON header is malformed (not JSON, missing keys, bad offsets).
    case malformedHeader(path: String, detail: String)
    /// A tensor the caller asked for is not in the file.
    case missingTensor(name: String, path: String)
    /// A tensor's shape differs from the one the caller expects.
    case shapeMismatch(name: String, expected: [Int], found: [Int])
    /// A tensor's dtype cannot be converted to Float32 (e.g. I64 read as floats).
    case unsupportedDType(name: String, dtype: String)
    /// The caller tried to add the same tensor name twice, or a name with an invalid shape/data.
    case invalidTensor(name: String, detail: String)
    /// Writing the file failed.
    case writeFailed(path: String, detail: String)

    public var description: String {
        switch self {
        case let .truncated(path, detail):
            return "safetensors file \(path) is truncated: \(detail). Re-export or re-download the file."
        case let .malformedHeader(path, detail):
            return "safetensors file \(path) has a malformed header: \(detail)."
        case let .missingTensor(name, path):
            return "tensor '\(name)' is missing from \(path). Check that the checkpoint matches the model config."
        case let .shapeMismatch(name, expected, found):
            return "tensor '\(name)' has shape \(found), expected \(expected). The checkpoint was saved with another config."
        case let .unsupportedDType(name, dtype):
            return "tensor '\(name)' has dtype \(dtype), which cannot be read as floating point (supported: F32, F16, BF16)."
        case let .invalidTensor(name, detail):
            return "tensor '\(name)': \(detail)"
        case let .writeFailed(path, detail):
            return "could not write \(path): \(detail)"
        }
    }
}
