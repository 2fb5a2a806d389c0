// Float32 tensors and the kernels of the model, each forward beside its backward, on OpenBLAS.
// (Module placeholder: the module's files replace this one as they land.)
