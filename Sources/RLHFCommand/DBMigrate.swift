import ArgumentParser
import Preferences

/// `rlhf db migrate`: applies pending schema migrations (versioned, idempotent, recorded in `schema_migrations`).
struct DBMigrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending schema migrations (safe to run again).")

    @OptionGroup var database: DatabaseOptions

    func run() throws {
        let store = try database.connect("rlhf.db")
        let applied = try store.migrate()
        let all = try store.appliedMigrations()
        if applied.isEmpty {
            emit("\(store.location): schema up to date (version \(all.last ?? 0))")
        } else {
            emit("\(store.location): applied migration(s) \(applied.map(String.init).joined(separator: ", ")); now at version \(all.last ?? 0)")
        }
    }
}
