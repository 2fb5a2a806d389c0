// Shared pieces of the RLHF stage kinds (reward-model, ppo, dpo): the comparison snapshot, optional
// parameters, model inputs and tokenization of prompts and responses.

import Alignment
import Foundation
import Logging
import Pipeline
import Preferences
import Tokenization

// MARK: - Comparison snapshot

/// The comparison snapshot of an RLHF stage: read from PostgreSQL in `resolveInputs`, written into
/// the snapshot directory (its digest enters the cache key), read back in `run`.
enum ComparisonSnapshotInput {
    static let fileName = "comparisons.json"

    /// The parameters `resolve` reads (`dataset`, `database_url`, `ties`), shared by every stage that
    /// takes a comparison snapshot; `dataset` documents what the stage uses the comparisons for.
    static func parameters(dataset doc: String) -> [ParameterSpec] {
        [ParameterSpec("dataset", .string, required: doc),
         ParameterSpec("database_url", .string, default: .null, doc: "libpq URL; default: the RLHF_DATABASE_URL environment variable."),
         ParameterSpec("ties", .string, default: .string("drop"), doc: "Tied comparisons: drop, or margin0 (kept with margin 0).")]
    }

    /// Reads `dataset` (ties policy `ties`) from the store at `database_url` or `RLHF_DATABASE_URL`
    /// and writes it into `context.snapshotDirectory`.
    /// - Throws: `PipelineError.parameter` (no URL, bad `ties`, a snapshot without any pair: names the
    ///   dataset and how to fill it), `PreferenceError` (database, unknown dataset).
    static func resolve(_ context: StageContext) throws -> [ResolvedInput] {
        let dataset = try context.params.string("dataset")
        let tiesName = try context.params.string("ties")
        guard let ties = TiePolicy(rawValue: tiesName) else {
            throw PipelineError.parameter(stage: context.stageName, name: "ties",
                                          message: "'\(tiesName)' is not one of \(TiePolicy.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let url: String
        if case .string(let s)? = context.params["database_url"], !s.isEmpty { url = s }
        else if let env = ProcessInfo.processInfo.environment["RLHF_DATABASE_URL"], !env.isEmpty { url = env }
        else {
            throw PipelineError.parameter(stage: context.stageName, name: "database_url",
                                          message: "no database: set RLHF_DATABASE_URL or the stage's database_url (a libpq URL)")
        }
        guard let dir = context.snapshotDirectory else { return [] }
        let store = try PreferenceStore(url: url, logger: context.logger)
        let snapshot = try store.snapshot(dataset: dataset, ties: ties)
        // Before anything is written or trained: an empty snapshot cannot train or give prompts.
        guard !snapshot.pairs.isEmpty else { throw emptySnapshotError(context, dataset: dataset, ties: ties) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try snapshot.write(to: dir.appendingPathComponent(fileName))
        context.logger.info("comparison snapshot", metadata: ["dataset": "\(dataset)", "pairs": "\(snapshot.pairs.count)",
                                                              "digest": "\(snapshot.digest)"])
        return []
    }

    /// The snapshot `resolve` wrote.
    /// - Throws: `PipelineError.parameter` when it holds no pair; `PreferenceError` when unreadable.
    static func read(_ context: StageContext) throws -> ComparisonSnapshot {
        guard let dir = context.snapshotDirectory else {
            throw TrainerError.emptyData("stage '\(context.stageName)' has no comparison snapshot (resolveInputs did not run)")
        }
        let s = try ComparisonSnapshot.read(from: dir.appendingPathComponent(fileName))
        guard !s.pairs.isEmpty else { throw emptySnapshotError(context, dataset: s.dataset, ties: s.ties) }
        return s
    }

    /// The error for a dataset with no labelled comparison: names the dataset and the ways to fill it.
    static func emptySnapshotError(_ context: StageContext, dataset: String, ties: TiePolicy) -> PipelineError {
        var fix = "import labelled pairs (`rlhf prefs import FILE --format hh-rlhf|trl --dataset \(dataset)`), "
            + "or label the queued ones (`rlhf label --dataset \(dataset) --annotator NAME`)"
        if ties == .drop { fix += ", or keep tied votes with `ties: margin0`" }
        return .parameter(stage: context.stageName, name: "dataset",
                          message: "dataset '\(dataset)' has no labelled comparisons (ties: \(ties.rawValue)), so there is nothing to train on; "
                              + fix + "; `rlhf prefs stats --dataset \(dataset)` shows what it holds")
    }
}

// MARK: - Parameters

extension ResolvedParameters {
    /// An optional integer (nil when absent or null).
    func optionalInt(_ name: String) throws -> Int? {
        if self[name] == nil || self[name] == .null { return nil }
        return try int(name)
    }

    /// An optional number (nil when absent or null).
    func optionalDouble(_ name: String) throws -> Double? {
        if self[name] == nil || self[name] == .null { return nil }
        return try double(name)
    }

    /// An optional string (nil when absent, null or empty).
    func optionalString(_ name: String) throws -> String? {
        if self[name] == nil || self[name] == .null { return nil }
        let s = try string(name)
        return s.isEmpty ? nil : s
    }
}

// MARK: - Inputs

enum ModelInputs {
    /// The artifact of the `needs` stage named by parameter `param`, or the single input that is (or
    /// is not, per `rewardModel`) a reward model.
    /// - Throws: `PipelineError.parameter` when none or several match.
    static func pick(_ context: StageContext, param: String, rewardModel: Bool) throws -> URL {
        if let name = try context.params.optionalString(param) { return try context.input(name) }
        let matching = context.inputs.filter { RewardModel.isRewardModelDirectory($0.value) == rewardModel }
        guard matching.count == 1, let url = matching.first?.value else {
            throw PipelineError.parameter(stage: context.stageName, name: param,
                message: "found \(matching.count) \(rewardModel ? "reward-model" : "causal-LM") inputs among needs \(context.inputs.keys.sorted()); "
                    + "name the stage with `\(param):`")
        }
        return url
    }
}
