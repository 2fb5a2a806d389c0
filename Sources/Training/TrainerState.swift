// The trainer's resumable state, saved as JSON beside a model checkpoint.
import Foundation

/// Everything besides weights and optimizer moments that a resumed run needs to continue exactly:
/// the step, the data position (sampler RNG and batch count), the schedule, the best evaluation.
/// Saved as `trainer_state.json` (snake_case keys) in a checkpoint directory.
public struct TrainerState: Codable, Equatable, Sendable {
    /// File name inside a checkpoint directory.
    public static let fileName = "trainer_state.json"

    /// Format version; `load` rejects unknown versions.
    public var version: Int = 1
    /// Optimizer steps completed (the next step to run has this 0-based index).
    public var globalStep: Int
    /// Training tokens consumed so far (tokens).
    public var tokensSeen: Int
    /// Data position: the sampler's generator and batch count.
    public var sampler: BatchSamplerState
    /// The learning-rate schedule in force.
    public var schedule: CosineSchedule
    /// Lowest `eval_loss` seen (nats/token), if any evaluation ran.
    public var bestEvalLoss: Double?
    /// Step of `bestEvalLoss`.
    public var bestEvalStep: Int?
    /// Seed the run started from (for the record; the sampler state is what resumes).
    public var seed: UInt64
    /// Trainer-specific scalars (e.g. the PPO KL coefficient `kl_coef`, `episode`), by name.
    public var extra: [String: Double]

    enum CodingKeys: String, CodingKey {
        case version, sampler, schedule, seed, extra
        case globalStep = "global_step"
        case tokensSeen = "tokens_seen"
        case bestEvalLoss = "best_eval_loss"
        case bestEvalStep = "best_eval_step"
    }

    public init(globalStep: Int = 0, tokensSeen: Int = 0, sampler: BatchSamplerState, schedule: CosineSchedule,
                bestEvalLoss: Double? = nil, bestEvalStep: Int? = nil, seed: UInt64, extra: [String: Double] = [:]) {
        self.globalStep = globalStep; self.tokensSeen = tokensSeen; self.sampler = sampler
        self.schedule = schedule; self.bestEvalLoss = bestEvalLoss; self.bestEvalStep = bestEvalStep
        self.seed = seed; self.extra = extra
    }

    /// Records an evaluation; returns true when it is a new best (strictly lower loss).
    /// - Parameters:
    ///   - loss: `eval_loss` (nats/token).
    ///   - step: the step it was measured at.
    @discardableResult
    public mutating func recordEvaluation(loss: Double, step: Int) -> Bool {
        guard loss.isFinite, bestEvalLoss.map({ loss < $0 }) ?? true else { return false }
        bestEvalLoss = loss
        bestEvalStep = step
        return true
    }

    /// Writes `directory/trainer_state.json` atomically (temp file, fsync, rename).
    /// - Throws: `TrainingError.io` when encoding or writing fails.
    public func save(in directory: URL) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        let url = directory.appendingPathComponent(Self.fileName)
        let data: Data
        do { data = try enc.encode(self) } catch {
            throw TrainingError.io(operation: "encode trainer state", path: url.path, reason: "\(error)")
        }
        try writeFileAtomically(data, to: url)
    }

    /// Reads `directory/trainer_state.json`.
    /// - Throws: `TrainingError.io` when the file is missing or unreadable;
    ///   `TrainingError.invalidConfiguration(field: "trainer_state.json", ...)` when it is malformed or of an unknown version.
    public static func load(from directory: URL) throws -> TrainerState {
        let url = directory.appendingPathComponent(fileName)
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TrainingError.io(operation: "read", path: url.path, reason: error.localizedDescription)
        }
        let state: TrainerState
        do { state = try JSONDecoder().decode(TrainerState.self, from: data) } catch {
            throw TrainingError.invalidConfiguration(field: url.path, reason: "malformed trainer state: \(error)")
        }
        guard state.version == 1 else {
            throw TrainingError.invalidConfiguration(field: url.path, reason: "version \(state.version) is not supported (this build reads version 1)")
        }
        return state
    }
}
