// The PostgreSQL store of human pairwise comparisons.
// (Module placeholder: the module's files replace this one as they land.)
