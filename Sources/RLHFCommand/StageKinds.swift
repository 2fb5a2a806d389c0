import Pipeline

// MARK: - The stage kinds `rlhf run` knows

extension StageRegistry {
    /// Every stage kind of the product: `command` (built into Pipeline) plus the kinds of the `Stages`
    /// target. Add a kind here with one line, e.g. `registry.register(PretrainStage.self)`.
    static func all() -> StageRegistry {
        let registry = StageRegistry.builtin()
        return registry
    }
}
