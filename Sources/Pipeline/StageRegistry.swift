import Foundation

// MARK: - Registry

/// The one place that lists stage kinds by name.
///
/// ```swift
/// var registry = StageRegistry.builtin()      // `command`
/// registry.register(PretrainStage.self)       // the Stages target adds its kinds
/// ```
public struct StageRegistry: Sendable {
    private var kinds: [String: any StageKind.Type] = [:]

    /// An empty registry.
    public init() {}

    /// A registry holding the kinds built into `Pipeline` (`command`).
    public static func builtin() -> StageRegistry {
        var r = StageRegistry()
        r.register(CommandStage.self)
        return r
    }

    /// Adds (or replaces) `kind` under `kind.name`.
    public mutating func register(_ kind: any StageKind.Type) {
        kinds[kind.name] = kind
    }

    /// The kind named `name`, if registered.
    public func kind(named name: String) -> (any StageKind.Type)? { kinds[name] }

    /// Registered kind names, sorted.
    public var names: [String] { kinds.keys.sorted() }
}
