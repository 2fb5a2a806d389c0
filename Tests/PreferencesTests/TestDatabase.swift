import Foundation
import Logging
import XCTest
@testable import Preferences

/// A fresh PostgreSQL schema per test on the server of `RLHF_DATABASE_URL`, dropped at the end.
///
/// Tests skip (XCTSkip) when the variable is unset; CI always sets it.
struct TestDatabase {
    let adminURL: String
    let schema: String
    /// The URL whose connections use only `schema` (libpq `options=-csearch_path=...`).
    let url: String

    static func make(file: StaticString = #filePath, line: UInt = #line) throws -> TestDatabase {
        guard let admin = ProcessInfo.processInfo.environment["RLHF_DATABASE_URL"], !admin.isEmpty else {
            throw XCTSkip("RLHF_DATABASE_URL is not set; start a server with deploy/local-postgres.sh start /tmp/pg 55432 and export it")
        }
        let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        let c = try PostgresConnection(conninfo: admin)
        try c.execute("CREATE SCHEMA \(schema)")
        let sep = admin.contains("?") ? "&" : "?"
        return TestDatabase(adminURL: admin, schema: String(schema), url: admin + sep + "options=-csearch_path%3D\(schema)")
    }

    /// A migrated store on this schema.
    func store(retry: RetryPolicy = .default) throws -> PreferenceStore {
        let s = try PreferenceStore(url: url, logger: Logger(label: "test"), retry: retry)
        try s.migrate()
        return s
    }

    /// Runs SQL on the schema (for assertions).
    func query(_ sql: String, _ params: [String?] = []) throws -> PostgresResult {
        let c = try PostgresConnection(conninfo: url)
        return try c.execute(sql, params)
    }

    func drop() {
        if let c = try? PostgresConnection(conninfo: adminURL) { _ = try? c.execute("DROP SCHEMA \(schema) CASCADE") }
    }
}

/// Writes `text` to a temporary file and returns its URL.
func temporaryFile(_ text: String, name: String = "input.jsonl") throws -> URL {
    try temporaryFile(Data(text.utf8), name: name)
}

func temporaryFile(_ data: Data, name: String = "input.jsonl") throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("prefs-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let url = dir.appendingPathComponent(name)
    try data.write(to: url)
    return url
}

/// JSON line from a dictionary of strings.
func jsonLine(_ object: [String: Any]) -> String {
    String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
}
