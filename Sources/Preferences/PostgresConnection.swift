import CLibPQ
import Foundation

// MARK: - Connection

/// One libpq connection: parameterised statements (prepared where repeated), transactions and `COPY FROM STDIN`.
///
/// Not thread-safe: `PreferenceStore` serialises access with a lock. Every statement passes its values as
/// separate text parameters (`PQexecParams` / `PQexecPrepared`), never spliced into SQL.
final class PostgresConnection {
    private var conn: OpaquePointer?
    private var prepared: Set<String> = []
    let conninfo: String
    /// `host:port/dbname` for messages (never the password).
    let location: String

    /// Opens a connection.
    /// - Parameter conninfo: a libpq URI (`postgresql://user@host:port/db?options=...`) or key/value string.
    /// - Throws: `PreferenceError.connectionFailed` naming host:port/db and how to start a server.
    init(conninfo: String) throws {
        self.conninfo = conninfo
        self.location = PostgresConnection.describe(conninfo)
        try connect()
    }

    deinit { if let conn { PQfinish(conn) } }

    /// (Re)opens the underlying connection; drops the prepared-statement cache.
    func connect() throws {
        if let conn { PQfinish(conn) }
        prepared.removeAll()
        conn = PQconnectdb(conninfo)
        guard let conn, PQstatus(conn) == CONNECTION_OK else {
            let message = conn.map { String(cString: PQerrorMessage($0)) } ?? "out of memory"
            throw PreferenceError.connectionFailed(location: location, message: message.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        // Quiet NOTICEs (e.g. "relation already exists, skipping") instead of libpq printing them to stderr.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
    }

    /// Whether the socket is still usable.
    var isHealthy: Bool { conn.map { PQstatus($0) == CONNECTION_OK } ?? false }

    /// `host:port/dbname` parsed from a conninfo string, without user or password.
    static func describe(_ conninfo: String) -> String {
        var errmsg: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &errmsg) else {
            if let errmsg { PQfreemem(errmsg) }
            return "(unparseable connection string)"
        }
        defer { PQconninfoFree(options) }
        var values: [String: String] = [:]
        var p = options
        while let keyword = p.pointee.keyword {
            if let v = p.pointee.val { values[String(cString: keyword)] = String(cString: v) }
            p = p.advanced(by: 1)
        }
        let host = values["host"] ?? values["hostaddr"] ?? "localhost (default socket)"
        let port = values["port"] ?? "5432"
        let db = values["dbname"] ?? values["user"] ?? "(default)"
        return "\(host):\(port)/\(db)"
    }

    // MARK: - Statements

    /// Runs one statement with text parameters and returns its result.
    /// - Parameters:
    ///   - sql: SQL with `$1...$n` placeholders.
    ///   - params: values as text (`nil` is SQL NULL).
    ///   - prepareAs: a statement name: prepared once per connection, then executed by name.
    /// - Throws: `PreferenceError.database` with the server's SQLSTATE and message.
    @discardableResult
    func execute(_ sql: String, _ params: [String?] = [], prepareAs name: String? = nil) throws -> PostgresResult {
        guard let conn else { throw PreferenceError.database(sqlState: "08003", message: "no connection", query: sql) }
        if let name, !prepared.contains(name) {
            let r = PQprepare(conn, name, sql, Int32(params.count), nil)
            let res = try PostgresResult.check(r, conn: conn, sql: sql)
            _ = res
            prepared.insert(name)
        }
        return try withCStringArray(params) { values in
            let r: OpaquePointer?
            if let name {
                r = PQexecPrepared(conn, name, Int32(params.count), values, nil, nil, 0)
            } else {
                r = PQexecParams(conn, sql, Int32(params.count), nil, values, nil, nil, 0)
            }
            return try PostgresResult.check(r, conn: conn, sql: sql)
        }
    }

    /// Runs a parameterless script that may hold several statements (migrations), with `PQexec`.
    func executeScript(_ sql: String) throws {
        guard let conn else { throw PreferenceError.database(sqlState: "08003", message: "no connection", query: sql) }
        _ = try PostgresResult.check(PQexec(conn, sql), conn: conn, sql: sql)
    }

    /// Runs `body` inside `BEGIN ... COMMIT`, rolling back when it throws.
    /// - Parameter isolation: e.g. `"REPEATABLE READ, READ ONLY"`; default READ COMMITTED.
    func transaction<T>(isolation: String? = nil, _ body: () throws -> T) throws -> T {
        try execute(isolation.map { "BEGIN ISOLATION LEVEL \($0)" } ?? "BEGIN")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            if isHealthy { _ = try? execute("ROLLBACK") }
            throw error
        }
    }

    // MARK: - COPY

    /// Streams rows into `COPY table (cols) FROM STDIN` (text format; values escaped here).
    /// - Parameters:
    ///   - copySQL: the `COPY ... FROM STDIN` statement.
    ///   - rows: rows of column values (`nil` is NULL); text must not contain NUL.
    /// - Returns: the number of rows the server reports copied.
    @discardableResult
    func copyIn(_ copySQL: String, rows: [[String?]]) throws -> Int {
        guard let conn else { throw PreferenceError.database(sqlState: "08003", message: "no connection", query: copySQL) }
        let start = PQexec(conn, copySQL)
        guard PQresultStatus(start) == PGRES_COPY_IN else {
            _ = try PostgresResult.check(start, conn: conn, sql: copySQL)
            throw PreferenceError.database(sqlState: nil, message: "COPY did not start", query: copySQL)
        }
        PQclear(start)
        var buffer = [UInt8]()
        buffer.reserveCapacity(1 << 20)
        func flush() throws {
            guard !buffer.isEmpty else { return }
            let ok = buffer.withUnsafeBufferPointer { p in
                p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) { PQputCopyData(conn, $0, Int32(p.count)) }
            }
            buffer.removeAll(keepingCapacity: true)
            if ok != 1 { throw PreferenceError.database(sqlState: nil, message: String(cString: PQerrorMessage(conn)), query: copySQL) }
        }
        for row in rows {
            for (i, value) in row.enumerated() {
                if i > 0 { buffer.append(0x09) }
                if let value { PostgresConnection.appendCopyEscaped(value, to: &buffer) } else { buffer.append(contentsOf: [0x5C, 0x4E]) }
            }
            buffer.append(0x0A)
            if buffer.count > (1 << 20) { try flush() }
        }
        try flush()
        guard PQputCopyEnd(conn, nil) == 1 else {
            throw PreferenceError.database(sqlState: nil, message: String(cString: PQerrorMessage(conn)), query: copySQL)
        }
        let end = try PostgresResult.check(PQgetResult(conn), conn: conn, sql: copySQL)
        while let extra = PQgetResult(conn) { PQclear(extra) }
        return Int(end.commandTuples)
    }

    /// Escapes one value for COPY text format: backslash, tab, newline and carriage return.
    static func appendCopyEscaped(_ s: String, to buffer: inout [UInt8]) {
        for b in s.utf8 {
            switch b {
            case 0x5C: buffer.append(0x5C); buffer.append(0x5C)
            case 0x09: buffer.append(0x5C); buffer.append(0x74)
            case 0x0A: buffer.append(0x5C); buffer.append(0x6E)
            case 0x0D: buffer.append(0x5C); buffer.append(0x72)
            default: buffer.append(b)
            }
        }
    }
}

// MARK: - Result

/// A libpq result; values are read as text.
final class PostgresResult {
    private let res: OpaquePointer

    private init(_ res: OpaquePointer) { self.res = res }
    deinit { PQclear(res) }

    /// Wraps `r`, throwing `PreferenceError.database` unless it is a success status.
    static func check(_ r: OpaquePointer?, conn: OpaquePointer, sql: String) throws -> PostgresResult {
        guard let r else {
            throw PreferenceError.database(sqlState: PQstatus(conn) == CONNECTION_OK ? nil : "08006",
                                           message: String(cString: PQerrorMessage(conn)), query: sql)
        }
        let status = PQresultStatus(r)
        if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_COPY_IN {
            return PostgresResult(r)
        }
        let state = PQresultErrorField(r, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
        var message = String(cString: PQresultErrorMessage(r)).trimmingCharacters(in: .whitespacesAndNewlines)
        if message.isEmpty { message = String(cString: PQerrorMessage(conn)).trimmingCharacters(in: .whitespacesAndNewlines) }
        PQclear(r)
        let connectionLost = PQstatus(conn) != CONNECTION_OK
        throw PreferenceError.database(sqlState: state ?? (connectionLost ? "08006" : nil), message: message, query: sql)
    }

    var rowCount: Int { Int(PQntuples(res)) }
    var commandTuples: Int64 { Int64(String(cString: PQcmdTuples(res))) ?? 0 }

    /// Text value at (row, column), `nil` for NULL.
    func string(_ row: Int, _ column: Int) -> String? {
        if PQgetisnull(res, Int32(row), Int32(column)) == 1 { return nil }
        let p = PQgetvalue(res, Int32(row), Int32(column))!
        let n = Int(PQgetlength(res, Int32(row), Int32(column)))
        return p.withMemoryRebound(to: UInt8.self, capacity: n) { String(decoding: UnsafeBufferPointer(start: $0, count: n), as: UTF8.self) }
    }

    func int(_ row: Int, _ column: Int) -> Int64? { string(row, column).flatMap { Int64($0) } }
    func double(_ row: Int, _ column: Int) -> Double? { string(row, column).flatMap { Double($0) } }
    func bool(_ row: Int, _ column: Int) -> Bool? { string(row, column).map { $0 == "t" } }
}

// MARK: - Helpers

/// Calls `body` with a C array of C strings (NULL for `nil`) that lives for the call.
private func withCStringArray<T>(_ values: [String?], _ body: ([UnsafePointer<CChar>?]) throws -> T) rethrows -> T {
    let owned: [UnsafeMutablePointer<CChar>?] = values.map { $0.map { strdup($0) } }
    defer { for p in owned { free(p) } }
    return try body(owned.map { $0.map { UnsafePointer($0) } })
}
