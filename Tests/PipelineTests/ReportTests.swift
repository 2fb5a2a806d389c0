import XCTest
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import Pipeline

/// The HTML report is self-contained and plots each metric series.
final class ReportTests: XCTestCase {
    func testReportPlotsCurvesAsInlineSVG() async throws {
        let sandbox = try Sandbox()
        let r = try await sandbox.run("""
            name: report
            stages:
              train: {kind: test-write, params: {text: T, steps: 5, tag: report}}
            """)
        let store = try sandbox.store()
        let (run, sections) = try RunReport.sections(store: store, run: r.runID)
        let html = RunReport.html(run: run, sections: sections)
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>"))
        XCTAssertFalse(html.contains("<script"), "no scripts")
        XCTAssertFalse(html.contains("http://") && html.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("http://"),
                       "no external resources")
        // loss and eval_loss share one chart with two polylines of 5 points each.
        XCTAssertEqual(html.components(separatedBy: "<svg").count - 1, 1)
        let polylines = html.components(separatedBy: "<polyline").dropFirst()
        XCTAssertEqual(polylines.count, 2)
        for p in polylines {
            let points = p.components(separatedBy: "points=\"")[1].components(separatedBy: "\"")[0]
            XCTAssertEqual(points.split(separator: " ").count, 5)
        }
        XCTAssertTrue(html.contains("score = 1"), "headline metric in the stage table")
        // The XML of the SVG is well formed.
        let svg = "<svg" + html.components(separatedBy: "<svg")[1].components(separatedBy: "</svg>")[0] + "</svg>"
        let parser = XMLParser(data: Data(svg.utf8))
        XCTAssertTrue(parser.parse(), "\(String(describing: parser.parserError))")
    }
}
