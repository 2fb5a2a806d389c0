// Optimisers, schedules, data loading, checkpoints and the pretraining loop.
// (Module placeholder: the module's files replace this one as they land.)
