// Knowledge bases indexed with SQLite FTS5, RAG prompts, retrieval-augmented fine-tuning and QA evaluation.
// (Module placeholder: the module's files replace this one as they land.)
