// The orchestrator: pipeline YAML, DAG, scheduler, content-addressed artifacts cached in SQLite.
// (Module placeholder: the module's files replace this one as they land.)
