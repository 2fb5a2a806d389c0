import Foundation
import Yams

// MARK: - Validated pipeline

/// A pipeline checked against a registry: kinds known, parameters typed, DAG acyclic, paths existing.
public struct ValidatedPipeline: Sendable {
    public var spec: PipelineSpec
    /// Stages in a topological order (every stage after all of its `needs`; ties in file order).
    public var stages: [ValidatedStage]

    /// The stage named `name`.
    public func stage(_ name: String) -> ValidatedStage? { stages.first { $0.name == name } }

    /// `names` and all their transitive `needs`.
    public func closure(of names: [String]) -> Set<String> {
        var out: Set<String> = []
        var stack = names
        while let n = stack.popLast() {
            guard out.insert(n).inserted, let s = stage(n) else { continue }
            stack.append(contentsOf: s.needs)
        }
        return out
    }
}

/// One stage ready to run.
public struct ValidatedStage: Sendable {
    public var name: String
    public var kind: any StageKind.Type
    public var needs: [String]
    public var params: ResolvedParameters
    public var seed: UInt64
    /// Files and directories whose content enters the key: path-typed parameters and `inputs:` (absolute).
    public var pathInputs: [(name: String, url: URL)]
    public var location: SourceLocation
}

// MARK: - Validation

/// Checks a `PipelineSpec` against a `StageRegistry` before anything runs.
public enum PipelineValidator {
    /// Validates `spec`: unknown kind, unknown/mistyped/missing parameter, unknown `needs`, cycles, missing paths.
    /// - Returns: the stages in topological order with typed parameters.
    /// - Throws: `PipelineError.invalid` (one error) or `.multiple`, each with file, line, column and a fix.
    public static func validate(_ spec: PipelineSpec, registry: StageRegistry) throws -> ValidatedPipeline {
        var errors: [PipelineError] = []
        var validated: [String: ValidatedStage] = [:]
        let names = Set(spec.stages.map(\.name))
        let base = spec.directory
        for stage in spec.stages {
            guard let kind = registry.kind(named: stage.kind) else {
                let suggestion = closest(stage.kind, in: registry.names)
                errors.append(.invalid(location: stage.kindLocation, message: "stage '\(stage.name)': unknown stage kind '\(stage.kind)'",
                                       fix: (suggestion.map { "did you mean '\($0)'? " } ?? "")
                                           + "known kinds: \(registry.names.joined(separator: ", "))"))
                continue
            }
            for (i, need) in stage.needs.enumerated() where !names.contains(need) || need == stage.name {
                let message = need == stage.name ? "stage '\(stage.name)' needs itself" : "stage '\(stage.name)' needs '\(need)', which is not a stage of this pipeline"
                let suggestion = closest(need, in: Array(names))
                errors.append(.invalid(location: stage.needsLocations[i], message: message,
                                       fix: (suggestion.map { "did you mean '\($0)'? " } ?? "")
                                           + "list only stages defined under `stages:`"))
            }
            var values: [String: ParameterValue] = [:]
            var pathInputs: [(String, URL)] = []
            let schema = kind.parameters
            for (pname, node, keyNode) in stage.rawParams {
                let loc = location(node, spec.file.path)
                guard let p = schema[pname] else {
                    let loc = location(keyNode, spec.file.path)
                    let suggestion = closest(pname, in: schema.parameters.map(\.name))
                    errors.append(.invalid(location: loc, message: "stage '\(stage.name)': unknown parameter '\(pname)' for kind '\(stage.kind)'",
                                           fix: (suggestion.map { "did you mean '\($0)'? " } ?? "")
                                               + "parameters of '\(stage.kind)': \(schema.parameters.map(\.name).joined(separator: ", "))"))
                    continue
                }
                do {
                    let v = try convert(node, to: p.type, stage: stage.name, param: pname, file: spec.file.path)
                    values[pname] = v
                    if p.type.containsPaths {
                        for path in collectStrings(v) {
                            let url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : base.appendingPathComponent(path).standardizedFileURL
                            if FileManager.default.fileExists(atPath: url.path) {
                                pathInputs.append(("param:\(pname):\(path)", url))
                            } else {
                                errors.append(.invalid(location: loc, message: "stage '\(stage.name)': parameter '\(pname)': path '\(path)' does not exist (resolved to \(url.path))",
                                                       fix: "create it or correct the path (relative paths resolve against the pipeline file's directory)"))
                            }
                        }
                    }
                } catch let e as PipelineError {
                    errors.append(e)
                }
            }
            for p in schema.parameters where values[p.name] == nil {
                if let d = p.defaultValue {
                    values[p.name] = d
                } else {
                    errors.append(.invalid(location: stage.paramsLocation, message: "stage '\(stage.name)': missing required parameter '\(p.name)' (\(p.type)): \(p.doc)",
                                           fix: "add `\(p.name): ...` under the stage's `params:`"))
                }
            }
            for (i, input) in stage.inputs.enumerated() {
                let url = input.hasPrefix("/") ? URL(fileURLWithPath: input) : base.appendingPathComponent(input).standardizedFileURL
                if FileManager.default.fileExists(atPath: url.path) {
                    pathInputs.append(("input:\(input)", url))
                } else {
                    errors.append(.invalid(location: stage.inputLocations[i], message: "stage '\(stage.name)': input '\(input)' does not exist (resolved to \(url.path))",
                                           fix: "create it or correct the path (relative paths resolve against the pipeline file's directory)"))
                }
            }
            validated[stage.name] = ValidatedStage(
                name: stage.name, kind: kind, needs: stage.needs,
                params: ResolvedParameters(values, stage: stage.name, baseDirectory: base),
                seed: stage.seed ?? spec.seed, pathInputs: pathInputs, location: stage.location)
        }
        // Topological order (Kahn, ties in file order) and cycle detection.
        var order: [String] = []
        var remaining = spec.stages.map(\.name)
        var done: Set<String> = []
        while !remaining.isEmpty {
            guard let next = remaining.firstIndex(where: { n in
                spec.stage(n)!.needs.allSatisfy { done.contains($0) || !names.contains($0) || $0 == n }
            }) else {
                let cycle = findCycle(spec)
                let first = spec.stage(cycle.first ?? remaining[0])!
                errors.append(.invalid(location: first.location, message: "the stages form a cycle: \((cycle + [cycle.first ?? ""]).joined(separator: " -> "))",
                                       fix: "remove one of these `needs` so that the stages form a DAG"))
                break
            }
            let n = remaining.remove(at: next)
            done.insert(n)
            order.append(n)
        }
        if !errors.isEmpty { throw errors.count == 1 ? errors[0] : PipelineError.multiple(errors) }
        return ValidatedPipeline(spec: spec, stages: order.compactMap { validated[$0] })
    }

    static func location(_ node: Node, _ file: String) -> SourceLocation {
        SourceLocation(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
    }

    static func collectStrings(_ v: ParameterValue) -> [String] {
        switch v {
        case .string(let s): return [s]
        case .list(let items): return items.flatMap(collectStrings)
        default: return []
        }
    }

    /// Converts a YAML node to a value of `type`.
    /// - Throws: `PipelineError.invalid` naming the node's position and the expected type.
    static func convert(_ node: Node, to type: ParameterType, stage: String, param: String, file: String) throws -> ParameterValue {
        func fail(_ expected: String, example: String) -> PipelineError {
            .invalid(location: location(node, file),
                     message: "stage '\(stage)': parameter '\(param)' must be \(expected), found \(describe(node))",
                     fix: "write e.g. `\(param): \(example)`")
        }
        switch type {
        case .int:
            guard node.scalar != nil, let v = node.int else { throw fail("an integer", example: "100") }
            return .int(v)
        case .float:
            guard node.scalar != nil, let v = node.float, node.bool == nil else { throw fail("a number", example: "0.001") }
            return .float(v)
        case .bool:
            guard node.scalar != nil, let v = node.bool else { throw fail("true or false", example: "true") }
            return .bool(v)
        case .string, .path:
            guard let s = node.scalar?.string, node.null == nil else {
                throw fail(type == .path ? "a path" : "a string", example: type == .path ? "data/file.txt" : "\"text\"")
            }
            return .string(s)
        case .list(let element):
            if node.null != nil { return .list([]) }
            guard let seq = node.sequence else { throw fail("a list (\(type))", example: "[a, b]") }
            return .list(try seq.map { try convert($0, to: element, stage: stage, param: param, file: file) })
        case .map:
            guard node.mapping != nil || node.null != nil else { throw fail("a mapping", example: "{key: value}") }
            return generic(node)
        }
    }

    /// A YAML node as a value with types inferred from YAML's core schema.
    static func generic(_ node: Node) -> ParameterValue {
        if let m = node.mapping {
            var d: [String: ParameterValue] = [:]
            for (k, v) in m { d[k.string ?? ""] = generic(v) }
            return .map(d)
        }
        if let s = node.sequence { return .list(s.map(generic)) }
        if node.null != nil { return .null }
        if let i = node.int { return .int(i) }
        if let f = node.float, node.scalar?.style == .plain { return .float(f) }
        if let b = node.bool, node.scalar?.style == .plain { return .bool(b) }
        return .string(node.string ?? "")
    }

    static func describe(_ node: Node) -> String {
        if node.mapping != nil { return "a mapping" }
        if node.sequence != nil { return "a list" }
        if node.null != nil { return "nothing (null)" }
        return "'\(node.string ?? "")'"
    }

    static func findCycle(_ spec: PipelineSpec) -> [String] {
        var state: [String: Int] = [:]  // 1 visiting, 2 done
        var path: [String] = []
        func dfs(_ n: String) -> [String]? {
            state[n] = 1
            path.append(n)
            for m in spec.stage(n)?.needs ?? [] where spec.stage(m) != nil && m != n {
                if state[m] == 1, let i = path.firstIndex(of: m) { return Array(path[i...]) }
                if state[m] == nil, let c = dfs(m) { return c }
            }
            path.removeLast()
            state[n] = 2
            return nil
        }
        for s in spec.stages where state[s.name] == nil {
            if let c = dfs(s.name) { return c }
        }
        return []
    }

    /// The candidate closest to `word` by edit distance, when close enough to be a likely typo.
    static func closest(_ word: String, in candidates: [String]) -> String? {
        func distance(_ a: [Character], _ b: [Character]) -> Int {
            var prev = Array(0...b.count)
            for i in 1...max(a.count, 1) where !a.isEmpty {
                var cur = [i] + Array(repeating: 0, count: b.count)
                for j in 1...max(b.count, 1) where !b.isEmpty {
                    cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                }
                prev = cur
            }
            return a.isEmpty ? b.count : prev[b.count]
        }
        let w = Array(word)
        let best = candidates.map { ($0, distance(w, Array($0))) }.min { $0.1 < $1.1 }
        guard let best, best.1 <= max(2, word.count / 3) else { return nil }
        return best.0
    }
}
