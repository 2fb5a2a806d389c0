import Pipeline
import Stages

// MARK: - The stage kinds `rlhf run` knows

extension StageRegistry {
    /// Every stage kind of the product: `command` (built into Pipeline) plus the kinds listed in
    /// `Stages/StageCatalog.swift`.
    static func all() -> StageRegistry { StageCatalog.registry() }
}
