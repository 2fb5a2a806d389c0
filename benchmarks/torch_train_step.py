#!/usr/bin/env python3
"""PyTorch peer of `rlhf-bench train-step`: the same Llama config, batch and step, timed the same way.

One step = zero_grad + forward with loss (transformers LlamaForCausalLM, labels = input ids, shifted
inside) + backward + clip_grad_norm_(1.0) + torch.optim.AdamW(lr=1e-4, weight_decay=0.1), on a fixed
random-token batch, after warm-up steps; phases timed with time.perf_counter.

FLOPs per step (PaLM appendix B / llm.c accounting, identical to rlhf-bench):
    (6 * N_matmul + 12 * L * H * D * T) * B * T
with N_matmul the weights that go through a matmul (q/k/v/o/gate/up/down of every layer and the
[V, C] output matrix; not the embedding lookup, not the norms).

Usage (same options as rlhf-bench train-step):
    python3 benchmarks/torch_train_step.py --hidden 256 --intermediate 688 --layers 4 --heads 8 \
        --kv-heads 8 --vocab 2048 --batch 8 --seq 256 --threads 2 [--json]
When OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set on a machine, unset both in the benchmark command
alone (`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 ...`); torch uses MKL/oneDNN here anyway.
"""
import argparse
import json
import resource
import statistics
import sys
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--intermediate", type=int, default=688)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=8)
    ap.add_argument("--vocab", type=int, default=2048)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tied", action="store_true")
    ap.add_argument("--attn", default="sdpa", help="transformers attn_implementation (sdpa or eager)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    cfg = LlamaConfig(vocab_size=a.vocab, hidden_size=a.hidden, intermediate_size=a.intermediate,
                      num_hidden_layers=a.layers, num_attention_heads=a.heads, num_key_value_heads=a.kv_heads,
                      max_position_embeddings=max(2048, a.seq), rms_norm_eps=1e-5, rope_theta=10000.0,
                      tie_word_embeddings=a.tied, attn_implementation=a.attn)
    model = LlamaForCausalLM(cfg).float().train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1)
    ids = torch.randint(0, a.vocab, (a.batch, a.seq))

    fwd, bwd, optt, total = [], [], [], []
    loss = None
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = model(input_ids=ids, labels=ids).loss
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        t3 = time.perf_counter()
        if i >= a.warmup:
            fwd.append(t1 - t0); bwd.append(t2 - t1); optt.append(t3 - t2); total.append(t3 - t0)

    d = a.hidden // a.heads
    per_layer = a.hidden * a.heads * d + 2 * a.hidden * a.kv_heads * d + a.heads * d * a.hidden + 3 * a.hidden * a.intermediate
    n_matmul = a.layers * per_layer + a.vocab * a.hidden
    tokens = a.batch * a.seq
    flops = (6 * n_matmul + 12 * a.layers * a.heads * d * a.seq) * tokens
    s = sum(total)
    rep = {
        "implementation": f"PyTorch {torch.__version__} + transformers LlamaForCausalLM ({a.attn})",
        "config": {"hidden_size": a.hidden, "intermediate_size": a.intermediate, "num_hidden_layers": a.layers,
                   "num_attention_heads": a.heads, "num_key_value_heads": a.kv_heads, "vocab_size": a.vocab,
                   "batch": a.batch, "seq": a.seq, "tie_word_embeddings": int(a.tied)},
        "threads": torch.get_num_threads(), "warmup": a.warmup, "steps": a.steps, "tokensPerStep": tokens,
        "matmulParams": n_matmul, "flopsPerStep": float(flops),
        "stepSecondsMedian": statistics.median(total), "stepSecondsMin": min(total), "stepSecondsTotal": s,
        "tokensPerSecond": tokens * a.steps / s, "gflopsPerSecond": flops * a.steps / s / 1e9,
        "forwardSecondsMedian": statistics.median(fwd), "backwardSecondsMedian": statistics.median(bwd),
        "optimizerSecondsMedian": statistics.median(optt),
        "peakRSSMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "finalLoss": float(loss.item()),
    }
    if a.json:
        print(json.dumps(rep, sort_keys=True))
        return
    print(f"torch train-step: C {a.hidden} F {a.intermediate} L {a.layers} H {a.heads} G {a.kv_heads} V {a.vocab}, "
          f"B {a.batch} x T {a.seq}, {rep['threads']} thread(s), {rep['implementation']}")
    print(f"  matmul params {n_matmul}, {flops / 1e9:.2f} GFLOP/step (6·N·tokens + 12·L·H·D·T·tokens)")
    print(f"  {a.steps} timed steps after {a.warmup} warm-up: median {rep['stepSecondsMedian'] * 1e3:.1f} ms "
          f"(min {rep['stepSecondsMin'] * 1e3:.1f}): forward+loss {rep['forwardSecondsMedian'] * 1e3:.1f}, "
          f"backward {rep['backwardSecondsMedian'] * 1e3:.1f}, clip+AdamW {rep['optimizerSecondsMedian'] * 1e3:.1f} ms")
    print(f"  tokens/s {rep['tokensPerSecond']:.0f}   GFLOP/s {rep['gflopsPerSecond']:.1f}   "
          f"peak RSS {rep['peakRSSMiB']:.0f} MiB (includes the torch runtime)   loss {rep['finalLoss']:.4f}")


if __name__ == "__main__":
    sys.exit(main())
