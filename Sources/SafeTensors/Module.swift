// Reading and writing the safetensors format (Hugging Face).
// (Module placeholder: the module's files replace this one as they land.)
