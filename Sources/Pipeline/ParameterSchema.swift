// MARK: - Parameter types

/// The type of a stage parameter as written in a pipeline file.
public indirect enum ParameterType: Sendable, Hashable, CustomStringConvertible {
    case int
    case float
    case bool
    case string
    /// A file or directory path, relative to the pipeline file's directory. It must exist when the
    /// pipeline is validated, and the digest of its content is part of the stage's cache key.
    case path
    case list(ParameterType)
    /// A mapping from string keys to values of any type.
    case map

    public var description: String {
        switch self {
        case .int: return "int"
        case .float: return "float"
        case .bool: return "bool"
        case .string: return "string"
        case .path: return "path"
        case .list(let t): return "list of \(t)"
        case .map: return "map"
        }
    }

    /// Whether values of this type contain paths (whose content enters the cache key).
    var containsPaths: Bool {
        switch self {
        case .path: return true
        case .list(let t): return t.containsPaths
        default: return false
        }
    }
}

// MARK: - Parameter specifications

/// One parameter of a stage kind: name, type, default (absent means required) and documentation.
public struct ParameterSpec: Sendable, Hashable {
    /// The key in the stage's `params` mapping, e.g. `learning_rate`.
    public var name: String
    public var type: ParameterType
    /// The value used when the pipeline file omits the parameter; `nil` makes the parameter required.
    public var defaultValue: ParameterValue?
    /// One sentence: meaning and unit (tokens, nats, seconds).
    public var doc: String

    /// Whether the pipeline file must give this parameter.
    public var isRequired: Bool { defaultValue == nil }

    /// A parameter with a default value.
    public init(_ name: String, _ type: ParameterType, default defaultValue: ParameterValue, doc: String) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.doc = doc
    }

    /// A required parameter (no default).
    public init(_ name: String, _ type: ParameterType, required doc: String) {
        self.name = name
        self.type = type
        self.defaultValue = nil
        self.doc = doc
    }
}

/// The parameters a stage kind accepts, in documentation order.
public struct ParameterSchema: Sendable, Hashable, ExpressibleByArrayLiteral {
    public var parameters: [ParameterSpec]

    public init(_ parameters: [ParameterSpec]) { self.parameters = parameters }
    public init(arrayLiteral elements: ParameterSpec...) { self.parameters = elements }

    /// The specification named `name`, if any.
    public subscript(name: String) -> ParameterSpec? { parameters.first { $0.name == name } }
}
