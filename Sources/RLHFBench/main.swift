// rlhf-bench: benchmarks of the numerical core (placeholder until the core lands).
print("rlhf-bench: no benchmarks yet")
