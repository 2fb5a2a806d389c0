import ArgumentParser
import Foundation
import Pipeline

/// Options shared by the orchestrator's subcommands: the work directory and JSON output.
struct WorkdirOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The work directory holding rlhf.sqlite, artifacts/ and logs/.", valueName: "DIR"))
    var workdir: String = ProcessInfo.processInfo.environment["RLHF_WORKDIR"] ?? ".rlhf"

    @Flag(name: .long, help: "Print one JSON object (for scripts) instead of a table.")
    var json = false

    /// The work directory as an absolute URL.
    var url: URL { URL(fileURLWithPath: workdir).standardizedFileURL }

    /// Opens the store; `create` is true only for `rlhf run`.
    func open(create: Bool = false) throws -> PipelineStore {
        try PipelineStore(workdir: url, create: create)
    }
}

/// Renders a table with left-aligned columns.
func renderTable(_ header: [String], _ rows: [[String]]) -> String {
    var widths = header.map(\.count)
    for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, c in i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
            .joined(separator: "  ")
    }
    return ([line(header)] + rows.map(line)).joined(separator: "\n")
}

/// `12.3s`, `850ms`, `1m05s`.
func formatSeconds(_ s: Double?) -> String {
    guard let s else { return "-" }
    if s < 1 { return "\(Int((s * 1000).rounded()))ms" }
    if s < 60 { return String(format: "%.1fs", s) }
    return String(format: "%dm%02ds", Int(s) / 60, Int(s) % 60)
}

/// `1.2 GB`, `340 KB`.
func formatBytes(_ b: Int64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"]
    var v = Double(b)
    var i = 0
    while v >= 1000 && i < units.count - 1 { v /= 1000; i += 1 }
    return i == 0 ? "\(b) B" : String(format: "%.1f %@", v, units[i])
}

/// `name=value` pairs for the headline metrics (or nothing).
func formatHeadline(_ names: [String], _ metrics: [String: Double]) -> String {
    names.compactMap { n in metrics[n].map { "\(n)=\(formatMetric($0))" } }.joined(separator: " ")
}

func formatMetric(_ v: Double) -> String {
    if v == v.rounded() && abs(v) < 1e9 { return String(Int(v)) }
    return String(format: abs(v) >= 0.01 && abs(v) < 1e5 ? "%.4f" : "%.3e", v)
}

/// `2026-11-29 15:21`.
func formatTime(_ t: Double?) -> String {
    guard let t else { return "-" }
    let f = DateFormatter()
    f.dateFormat = "yyyy-MM-dd HH:mm:ss"
    return f.string(from: Date(timeIntervalSince1970: t))
}

/// Prints to standard error.
func printError(_ s: String) {
    FileHandle.standardError.write(Data((s + "\n").utf8))
}

/// Encodes a JSON object with sorted keys on one line.
func jsonLine(_ obj: Any) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    return String(decoding: data, as: UTF8.self)
}

/// Runs `body`, turning a `PipelineError` into a message on standard error and exit status 1.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as PipelineError {
        printError("error: \(e.description)")
        throw ExitCode.failure
    }
}

/// Async form of `reportingErrors`.
func reportingErrors<T>(_ body: () async throws -> T) async throws -> T {
    do { return try await body() } catch let e as PipelineError {
        printError("error: \(e.description)")
        throw ExitCode.failure
    }
}
