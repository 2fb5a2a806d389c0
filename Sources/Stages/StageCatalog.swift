import Pipeline

/// The one place that lists rlhf's stage kinds: the orchestrator's built-ins (`command`) plus the ML
/// stages of this target. Add a kind here when its file lands.
public enum StageCatalog {
    /// A registry with every stage kind `rlhf run` accepts.
    public static func registry() -> StageRegistry {
        var registry = StageRegistry.builtin()
        for kind in kinds { registry.register(kind) }
        return registry
    }

    /// The ML stage kinds, in pipeline order.
    public static let kinds: [any StageKind.Type] = [
        TrainTokenizerStage.self,
        PretrainStage.self,
        ExportStage.self,
        SamplePairsStage.self,
        RewardModelStage.self,
        PPOStage.self,
        RAGInjectStage.self,
        DPOStage.self,
    ]
}
