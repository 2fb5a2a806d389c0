import Foundation
import XCTest

/// The TRL reference fixture written by `scripts/reference/alignment_reference.py`.
enum Reference {
    static let json: [String: Any] = {
        guard let url = Bundle.module.url(forResource: "trl_reference", withExtension: "json", subdirectory: "Fixtures"),
              let data = try? Data(contentsOf: url),
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            return [:]
        }
        return obj
    }()
}

extension Dictionary where Key == String, Value == Any {
    func dict(_ k: String) -> [String: Any] { self[k] as? [String: Any] ?? [:] }
    func floats(_ k: String) -> [Float] { (self[k] as? [Any] ?? []).map { Float(($0 as? NSNumber)?.doubleValue ?? .nan) } }
    func bools(_ k: String) -> [Bool] { floats(k).map { $0 != 0 } }
    func ints(_ k: String) -> [Int] { (self[k] as? [Any] ?? []).map { ($0 as? NSNumber)?.intValue ?? -1 } }
    func double(_ k: String) -> Double { (self[k] as? NSNumber)?.doubleValue ?? .nan }
    func int(_ k: String) -> Int { (self[k] as? NSNumber)?.intValue ?? -1 }
}

func assertClose(_ a: [Float], _ b: [Float], tol: Float = 1e-5, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, "\(what): length", file: file, line: line)
    XCTAssertFalse(b.isEmpty, "\(what): empty reference", file: file, line: line)
    for i in 0..<Swift.min(a.count, b.count) {
        XCTAssertEqual(a[i], b[i], accuracy: tol * Swift.max(1, Swift.abs(b[i])), "\(what)[\(i)]", file: file, line: line)
    }
}

func assertClose(_ a: Double, _ b: Double, tol: Double = 1e-5, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertFalse(b.isNaN, "\(what): missing reference", file: file, line: line)
    XCTAssertEqual(a, b, accuracy: tol * Swift.max(1, Swift.abs(b)), what, file: file, line: line)
}

/// Central finite difference of a scalar function of `x` at every coordinate (in Double).
func finiteDifference(_ x: [Float], h: Double = 1e-3, _ f: ([Float]) throws -> Double) rethrows -> [Double] {
    var g = [Double](repeating: 0, count: x.count)
    for i in x.indices {
        var p = x, m = x
        p[i] += Float(h); m[i] -= Float(h)
        let hp = Double(p[i]) - Double(x[i]), hm = Double(x[i]) - Double(m[i])
        g[i] = (try f(p) - f(m)) / (hp + hm)
    }
    return g
}

func assertGradient(_ analytic: [Float], _ numeric: [Double], tol: Double = 2e-3, _ what: String,
                    file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(analytic.count, numeric.count, file: file, line: line)
    for i in analytic.indices {
        XCTAssertEqual(Double(analytic[i]), numeric[i], accuracy: tol * Swift.max(1, Swift.abs(numeric[i])), "\(what)[\(i)]", file: file, line: line)
    }
}
