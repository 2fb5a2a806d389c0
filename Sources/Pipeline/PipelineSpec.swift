import Foundation
import Yams

// MARK: - Pipeline specification

/// A pipeline file as parsed (before validation against the stage registry).
///
/// ```yaml
/// name: quickstart
/// seed: 1234
/// stages:
///   tokenizer:
///     kind: train-tokenizer
///     params: {corpus: data/corpus.txt, vocab_size: 512}
///   pretrain:
///     kind: pretrain
///     needs: [tokenizer]
///     inputs: [data/extra.txt]     # optional further files or directories in the cache key
///     params: {steps: 200}
/// ```
public struct PipelineSpec: Sendable {
    /// The pipeline's name (`name:`), shown in `rlhf runs`.
    public var name: String
    /// The seed every stage receives unless it sets its own `seed:`.
    public var seed: UInt64
    /// The pipeline file (absolute).
    public var file: URL
    /// The directory relative paths resolve against (the pipeline file's directory).
    public var directory: URL { file.deletingLastPathComponent() }
    /// Stages in file order.
    public var stages: [StageSpec]
    /// Where the `stages:` mapping is, for DAG-level errors.
    public var stagesLocation: SourceLocation

    /// The stage named `name`.
    public func stage(_ name: String) -> StageSpec? { stages.first { $0.name == name } }
}

/// One stage as written in a pipeline file.
public struct StageSpec: @unchecked Sendable {  // Yams nodes are immutable values
    public var name: String
    public var kind: String
    public var needs: [String]
    /// Extra files or directories (relative to the pipeline directory) whose content is part of the key.
    public var inputs: [String]
    /// Raw parameter nodes by name, typed against the kind's schema by `PipelineValidator`.
    public var rawParams: [(name: String, node: Node, key: Node)]
    /// A per-stage seed overriding the pipeline's.
    public var seed: UInt64?
    public var location: SourceLocation
    public var kindLocation: SourceLocation
    public var needsLocations: [SourceLocation]
    public var inputLocations: [SourceLocation]
    public var paramsLocation: SourceLocation
}

// MARK: - Parsing

extension PipelineSpec {
    /// Reads and parses a pipeline file (YAML syntax and structure only; kinds and parameters are
    /// checked by `PipelineValidator`).
    ///
    /// - Parameter url: the pipeline YAML file.
    /// - Throws: `PipelineError.unreadable` when the file cannot be read; `PipelineError.invalid` (with
    ///   file, line and column) for malformed YAML or a misplaced key.
    public static func load(_ url: URL) throws -> PipelineSpec {
        let file = url.standardizedFileURL
        let text: String
        do {
            text = try String(contentsOf: file, encoding: .utf8)
        } catch {
            throw PipelineError.unreadable(path: file.path, reason: (error as NSError).localizedDescription)
        }
        return try parse(text, file: file)
    }

    /// Parses pipeline YAML text; `file` is used for locations and as the base of relative paths.
    ///
    /// - Throws: `PipelineError.invalid` or `.multiple` naming file, line and column.
    public static func parse(_ text: String, file: URL) throws -> PipelineSpec {
        let path = file.path
        func loc(_ node: Node?) -> SourceLocation {
            SourceLocation(file: path, line: node?.mark?.line ?? 1, column: node?.mark?.column ?? 1)
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            switch error {
            case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _):
                throw PipelineError.invalid(
                    location: SourceLocation(file: path, line: mark.line, column: mark.column),
                    message: "malformed YAML: \(problem)" + (context.map { " (\($0.text))" } ?? ""),
                    fix: "correct the YAML syntax at this position (indentation, a missing ':' or an unclosed quote)")
            default:
                throw PipelineError.invalid(location: loc(nil), message: "malformed YAML: \(error)",
                                            fix: "correct the YAML syntax")
            }
        }
        guard let root, let mapping = root.mapping else {
            throw PipelineError.invalid(location: loc(root), message: "a pipeline file must be a mapping",
                                        fix: "start the file with `name:`, `seed:` and `stages:` keys")
        }
        var errors: [PipelineError] = []
        var name = file.deletingPathExtension().lastPathComponent
        var seed: UInt64 = 0
        var stages: [StageSpec] = []
        var stagesLocation = loc(root)
        var sawStages = false
        for (keyNode, value) in mapping {
            let key = keyNode.string ?? ""
            switch key {
            case "name":
                if let s = value.scalar?.string { name = s } else {
                    errors.append(.invalid(location: loc(value), message: "`name` must be a string",
                                           fix: "write e.g. `name: quickstart`"))
                }
            case "seed":
                if let v = value.int, v >= 0 { seed = UInt64(v) } else {
                    errors.append(.invalid(location: loc(value), message: "`seed` must be a non-negative integer",
                                           fix: "write e.g. `seed: 1234`"))
                }
            case "stages":
                sawStages = true
                stagesLocation = loc(value)
                guard let stageMap = value.mapping else {
                    errors.append(.invalid(location: loc(value), message: "`stages` must be a mapping from stage name to stage",
                                           fix: "write `stages:` then one indented `NAME:` block per stage"))
                    continue
                }
                for (stageKey, stageNode) in stageMap {
                    do {
                        stages.append(try parseStage(name: stageKey, node: stageNode, loc: loc))
                    } catch let e as PipelineError {
                        errors.append(e)
                    }
                }
            default:
                errors.append(.invalid(location: loc(keyNode), message: "unknown top-level key '\(key)'",
                                       fix: "use only `name`, `seed` and `stages` at the top level"))
            }
        }
        if !sawStages {
            errors.append(.invalid(location: loc(root), message: "missing `stages`",
                                   fix: "add a `stages:` mapping with at least one stage"))
        }
        var seen: Set<String> = []
        for stage in stages where !seen.insert(stage.name).inserted {
            errors.append(.invalid(location: stage.location, message: "duplicate stage '\(stage.name)'",
                                   fix: "give each stage a unique name"))
        }
        if !errors.isEmpty { throw errors.count == 1 ? errors[0] : PipelineError.multiple(errors) }
        return PipelineSpec(name: name, seed: seed, file: file, stages: stages, stagesLocation: stagesLocation)
    }

    private static func parseStage(name keyNode: Node, node: Node,
                                   loc: (Node?) -> SourceLocation) throws -> StageSpec {
        guard let name = keyNode.scalar?.string, !name.isEmpty,
              name.range(of: "^[A-Za-z0-9][A-Za-z0-9_.-]*$", options: .regularExpression) != nil else {
            throw PipelineError.invalid(location: loc(keyNode), message: "invalid stage name '\(keyNode.string ?? "")'",
                                        fix: "use letters, digits, '-', '_' or '.' (e.g. `reward-model`)")
        }
        guard let map = node.mapping else {
            throw PipelineError.invalid(location: loc(node), message: "stage '\(name)' must be a mapping",
                                        fix: "give the stage at least `kind:` (and `needs:`, `params:` as needed)")
        }
        var kind: String?
        var kindLocation = loc(keyNode)
        var needs: [String] = []
        var needsLocations: [SourceLocation] = []
        var inputs: [String] = []
        var inputLocations: [SourceLocation] = []
        var params: [(String, Node, Node)] = []
        var paramsLocation = loc(node)
        var seed: UInt64?
        func stringList(_ value: Node, field: String) throws -> [(String, SourceLocation)] {
            if let s = value.scalar?.string { return [(s, loc(value))] }
            guard let seq = value.sequence else {
                throw PipelineError.invalid(location: loc(value), message: "stage '\(name)': `\(field)` must be a list of strings",
                                            fix: "write `\(field): [a, b]`")
            }
            return try seq.map { item in
                guard let s = item.scalar?.string else {
                    throw PipelineError.invalid(location: loc(item), message: "stage '\(name)': `\(field)` entries must be strings",
                                                fix: "write `\(field): [a, b]`")
                }
                return (s, loc(item))
            }
        }
        for (k, value) in map {
            switch k.string ?? "" {
            case "kind":
                guard let s = value.scalar?.string else {
                    throw PipelineError.invalid(location: loc(value), message: "stage '\(name)': `kind` must be a string",
                                                fix: "write e.g. `kind: command`")
                }
                kind = s
                kindLocation = loc(value)
            case "needs":
                for (s, l) in try stringList(value, field: "needs") { needs.append(s); needsLocations.append(l) }
            case "inputs":
                for (s, l) in try stringList(value, field: "inputs") { inputs.append(s); inputLocations.append(l) }
            case "params":
                paramsLocation = loc(value)
                if value.null != nil { continue }
                guard let pm = value.mapping else {
                    throw PipelineError.invalid(location: loc(value), message: "stage '\(name)': `params` must be a mapping",
                                                fix: "write `params:` then one indented `name: value` per parameter")
                }
                for (pk, pv) in pm {
                    guard let pname = pk.scalar?.string else {
                        throw PipelineError.invalid(location: loc(pk), message: "stage '\(name)': parameter names must be strings",
                                                    fix: "use a plain key such as `steps:`")
                    }
                    params.append((pname, pv, pk))
                }
            case "seed":
                guard let v = value.int, v >= 0 else {
                    throw PipelineError.invalid(location: loc(value), message: "stage '\(name)': `seed` must be a non-negative integer",
                                                fix: "write e.g. `seed: 7` or remove it to use the pipeline's seed")
                }
                seed = UInt64(v)
            default:
                throw PipelineError.invalid(location: loc(k), message: "stage '\(name)': unknown key '\(k.string ?? "")'",
                                            fix: "a stage has only `kind`, `needs`, `inputs`, `params` and `seed`; move parameters under `params:`")
            }
        }
        guard let kind else {
            throw PipelineError.invalid(location: loc(keyNode), message: "stage '\(name)' has no `kind`",
                                        fix: "add `kind:` with a registered stage kind (see `rlhf run --list-kinds`)")
        }
        return StageSpec(name: name, kind: kind, needs: needs, inputs: inputs, rawParams: params, seed: seed,
                         location: loc(keyNode), kindLocation: kindLocation, needsLocations: needsLocations,
                         inputLocations: inputLocations, paramsLocation: paramsLocation)
    }
}
