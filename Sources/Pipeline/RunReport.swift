import Foundation

// MARK: - HTML report

/// Renders a run's metrics as one self-contained HTML page (inline SVG line charts, no scripts, no
/// external resources), readable offline.
///
/// Series are grouped into charts by name, with `eval_`, `train/` and `eval/` prefixes removed, so that
/// `loss` and `eval_loss` share a chart (HF Trainer names); TRL's `objective/kl`, `env/reward_mean` each
/// get their own. Metrics with a single point are listed in a table.
public enum RunReport {
    /// One stage's section of the report.
    public struct StageSection: Sendable {
        public var name: String
        public var kind: String
        public var state: String
        public var cached: Bool
        public var seconds: Double?
        public var artifact: String?
        public var headline: [String]
        public var metrics: [MetricRecord]

        public init(name: String, kind: String, state: String, cached: Bool, seconds: Double?, artifact: String?,
                    headline: [String], metrics: [MetricRecord]) {
            self.name = name
            self.kind = kind
            self.state = state
            self.cached = cached
            self.seconds = seconds
            self.artifact = artifact
            self.headline = headline
            self.metrics = metrics
        }
    }

    /// Builds the sections of run `runID` from the store (a cached stage shows the producing run's metrics).
    /// - Throws: `PipelineError.notFound` for an unknown run; `PipelineError.database` on store errors.
    public static func sections(store: PipelineStore, run runID: Int64) throws -> (RunRecord, [StageSection]) {
        guard let run = try store.run(runID) else {
            throw PipelineError.notFound(what: "run \(runID)", fix: "list runs with `rlhf runs`")
        }
        let sections = try store.stageRuns(run: run.id).map { s in
            StageSection(name: s.stage, kind: s.kind, state: s.state.rawValue, cached: s.cached, seconds: s.seconds,
                         artifact: s.artifact, headline: s.headlineNames,
                         metrics: try store.metrics(stageRunID: s.sourceStageRunId ?? s.id))
        }
        return (run, sections)
    }

    /// The HTML page.
    public static func html(run: RunRecord, sections: [StageSection]) -> String {
        var h = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>rlhf run \(run.id): \(esc(run.pipeline))</title>
            <style>
            body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
            table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
            th{background:#f3f3f3}.charts{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0}
            figcaption{font-size:13px;text-align:center}code{font-size:12px}
            </style></head><body>
            <h1>Run \(run.id): \(esc(run.pipeline))</h1>
            <p>\(esc(run.file)) · \(esc(run.state.rawValue)) · started \(esc(Date(timeIntervalSince1970: run.started).description))\(run.ended.map { " · \(String(format: "%.1f", $0 - run.started)) s" } ?? "")</p>
            <table><tr><th>stage</th><th>kind</th><th>state</th><th>cached</th><th>seconds</th><th>headline metrics</th></tr>

            """
        for s in sections {
            let last = lastValues(s.metrics)
            let headline = s.headline.compactMap { n in last[n].map { "\(esc(n)) = \(fmt($0))" } }.joined(separator: ", ")
            h += "<tr><td><a href=\"#\(esc(s.name))\">\(esc(s.name))</a></td><td>\(esc(s.kind))</td><td>\(esc(s.state))</td>"
                + "<td>\(s.cached ? "yes" : "no")</td><td>\(s.seconds.map { String(format: "%.2f", $0) } ?? "-")</td><td>\(headline)</td></tr>\n"
        }
        h += "</table>\n"
        for s in sections {
            h += "<h2 id=\"\(esc(s.name))\">\(esc(s.name)) <small>(\(esc(s.kind)))</small></h2>\n"
            if let a = s.artifact { h += "<p>artifact <code>\(esc(a))</code></p>\n" }
            let series = Dictionary(grouping: s.metrics, by: \.name)
            let curves = series.filter { $0.value.count > 1 }
            let scalars = series.filter { $0.value.count == 1 }.mapValues { $0[0].value }
            if series.isEmpty { h += "<p>No metrics.</p>\n" }
            let groups = Dictionary(grouping: curves.keys, by: groupName)
            if !groups.isEmpty {
                h += "<div class=\"charts\">\n"
                for g in groups.keys.sorted() {
                    let names = groups[g]!.sorted()
                    h += chart(title: g, series: names.map { n in (n, curves[n]!.map { (Double($0.step), $0.value) }) })
                }
                h += "</div>\n"
            }
            if !scalars.isEmpty {
                h += "<table><tr><th>metric</th><th>value</th></tr>\n"
                for n in scalars.keys.sorted() { h += "<tr><td>\(esc(n))</td><td>\(fmt(scalars[n]!))</td></tr>\n" }
                h += "</table>\n"
            }
        }
        h += "</body></html>\n"
        return h
    }

    static func groupName(_ name: String) -> String {
        for prefix in ["eval_", "train_", "train/", "eval/"] where name.hasPrefix(prefix) {
            return String(name.dropFirst(prefix.count))
        }
        return name
    }

    static func lastValues(_ metrics: [MetricRecord]) -> [String: Double] {
        var d: [String: (Int, Double)] = [:]
        for m in metrics where (d[m.name]?.0 ?? Int.min) <= m.step { d[m.name] = (m.step, m.value) }
        return d.mapValues(\.1)
    }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]

    /// One SVG line chart (step on x, value on y) with axes, ticks and a legend.
    static func chart(title: String, series: [(String, [(Double, Double)])]) -> String {
        let w = 520.0, ht = 300.0, left = 64.0, right = 12.0, top = 28.0, bottom = 40.0
        let points = series.flatMap(\.1).filter { $0.1.isFinite }
        guard let minX = points.map(\.0).min(), let maxX = points.map(\.0).max(),
              var minY = points.map(\.1).min(), var maxY = points.map(\.1).max() else { return "" }
        if minY == maxY { minY -= 1; maxY += 1 }
        let pad = (maxY - minY) * 0.05
        minY -= pad; maxY += pad
        let spanX = max(maxX - minX, 1)
        func x(_ v: Double) -> Double { left + (v - minX) / spanX * (w - left - right) }
        func y(_ v: Double) -> Double { top + (maxY - v) / (maxY - minY) * (ht - top - bottom) }
        var s = "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(ht))\" viewBox=\"0 0 \(Int(w)) \(Int(ht))\" role=\"img\" aria-label=\"\(esc(title))\">\n"
        s += "<rect x=\"0\" y=\"0\" width=\"\(Int(w))\" height=\"\(Int(ht))\" fill=\"white\"/>\n"
        s += "<text x=\"\(Int(w / 2))\" y=\"18\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">\(esc(title))</text>\n"
        for i in 0...4 {
            let v = minY + (maxY - minY) * Double(i) / 4
            let yy = y(v)
            s += "<line x1=\"\(f(left))\" y1=\"\(f(yy))\" x2=\"\(f(w - right))\" y2=\"\(f(yy))\" stroke=\"#e5e5e5\"/>"
            s += "<text x=\"\(f(left - 4))\" y=\"\(f(yy + 4))\" text-anchor=\"end\" font-size=\"11\">\(fmt(v))</text>\n"
            let xv = minX + spanX * Double(i) / 4
            s += "<text x=\"\(f(x(xv)))\" y=\"\(f(ht - bottom + 16))\" text-anchor=\"middle\" font-size=\"11\">\(fmt(xv.rounded()))</text>\n"
        }
        s += "<line x1=\"\(f(left))\" y1=\"\(f(ht - bottom))\" x2=\"\(f(w - right))\" y2=\"\(f(ht - bottom))\" stroke=\"#444\"/>"
        s += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(ht - bottom))\" stroke=\"#444\"/>\n"
        s += "<text x=\"\(f((left + w - right) / 2))\" y=\"\(f(ht - 6))\" text-anchor=\"middle\" font-size=\"11\">step</text>\n"
        for (i, (name, pts)) in series.enumerated() {
            let color = palette[i % palette.count]
            let finite = pts.filter { $0.1.isFinite }.sorted { $0.0 < $1.0 }
            let d = finite.map { "\(f(x($0.0))),\(f(y($0.1)))" }.joined(separator: " ")
            s += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.6\" points=\"\(d)\"/>\n"
            if finite.count <= 30 {
                for p in finite { s += "<circle cx=\"\(f(x(p.0)))\" cy=\"\(f(y(p.1)))\" r=\"2.2\" fill=\"\(color)\"/>" }
                s += "\n"
            }
            let ly = top + 6 + Double(i) * 14
            s += "<rect x=\"\(f(w - right - 150))\" y=\"\(f(ly - 8))\" width=\"10\" height=\"10\" fill=\"\(color)\"/>"
            s += "<text x=\"\(f(w - right - 136))\" y=\"\(f(ly + 1))\" font-size=\"11\">\(esc(name))</text>\n"
        }
        s += "</svg><figcaption>\(esc(series.map(\.0).joined(separator: ", "))) by step</figcaption></figure>\n"
        return s
    }

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    static func fmt(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e9 { return String(Int(v)) }
        return String(format: abs(v) >= 0.01 && abs(v) < 1e5 ? "%.4g" : "%.3e", v)
    }

    /// HTML-escapes text.
    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
