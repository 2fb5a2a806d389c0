// The pipeline stage kinds of rlhf, registered in one place.
// (Module placeholder: the module's files replace this one as they land.)
