// The Llama decoder as in Hugging Face LlamaForCausalLM: config, parameters, forward, backward, generation.
// (Module placeholder: the module's files replace this one as they land.)
