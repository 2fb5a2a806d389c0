// Byte-level BPE: train, encode, decode, and Hugging Face tokenizer.json.
// (Module placeholder: the module's files replace this one as they land.)
