import GRDB

// MARK: - Migrations

/// The schema of `<workdir>/rlhf.sqlite`: named migrations, only ever appended (never edit a shipped one).
enum Migrations {
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1-runs-stages-artifacts-metrics") { db in
            try db.execute(sql: """
                CREATE TABLE runs (
                  id INTEGER PRIMARY KEY AUTOINCREMENT,
                  pipeline TEXT NOT NULL,
                  file TEXT NOT NULL,
                  state TEXT NOT NULL,
                  started REAL NOT NULL,
                  ended REAL,
                  pid INTEGER NOT NULL,
                  host TEXT NOT NULL,
                  heartbeat REAL NOT NULL,
                  error TEXT
                );
                CREATE TABLE stage_runs (
                  id INTEGER PRIMARY KEY AUTOINCREMENT,
                  run_id INTEGER NOT NULL REFERENCES runs(id),
                  stage TEXT NOT NULL,
                  kind TEXT NOT NULL,
                  key TEXT,
                  state TEXT NOT NULL,
                  cached INTEGER NOT NULL DEFAULT 0,
                  artifact TEXT,
                  source_stage_run_id INTEGER,
                  started REAL,
                  ended REAL,
                  error TEXT,
                  log_path TEXT,
                  pid INTEGER,
                  host TEXT,
                  heartbeat REAL,
                  headline TEXT
                );
                CREATE INDEX stage_runs_run ON stage_runs(run_id);
                CREATE INDEX stage_runs_state ON stage_runs(state);
                CREATE TABLE artifacts (
                  digest TEXT PRIMARY KEY,
                  kind TEXT NOT NULL,
                  stage TEXT NOT NULL,
                  path TEXT NOT NULL,
                  bytes INTEGER NOT NULL,
                  files INTEGER NOT NULL,
                  manifest TEXT NOT NULL,
                  created REAL NOT NULL,
                  stage_run_id INTEGER
                );
                CREATE TABLE cache (
                  key TEXT PRIMARY KEY,
                  artifact TEXT NOT NULL REFERENCES artifacts(digest) ON DELETE CASCADE,
                  stage_run_id INTEGER NOT NULL,
                  snapshot TEXT,
                  created REAL NOT NULL
                );
                CREATE TABLE lineage (
                  stage_run_id INTEGER NOT NULL,
                  artifact TEXT NOT NULL,
                  role TEXT NOT NULL,
                  name TEXT
                );
                CREATE INDEX lineage_stage_run ON lineage(stage_run_id);
                CREATE INDEX lineage_artifact ON lineage(artifact);
                CREATE TABLE metrics (
                  id INTEGER PRIMARY KEY AUTOINCREMENT,
                  run_id INTEGER NOT NULL,
                  stage_run_id INTEGER NOT NULL,
                  stage TEXT NOT NULL,
                  step INTEGER NOT NULL,
                  name TEXT NOT NULL,
                  value REAL NOT NULL,
                  time REAL NOT NULL
                );
                CREATE INDEX metrics_stage_run ON metrics(stage_run_id, name, step);
                """)
        }
        return m
    }
}
