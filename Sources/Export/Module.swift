// Exports: Hugging Face directory, PEFT adapter, GGUF.
// (Module placeholder: the module's files replace this one as they land.)
