#!/usr/bin/env python3
"""Hugging Face `generate` throughput on the same weights as `rlhf-bench generate` (the peer benchmark).

  swift run -c release rlhf-bench generate --save-model /tmp/bench-gen-model
  python3 benchmarks/torch_generate.py --model /tmp/bench-gen-model --threads 2

Greedy, no EOS (every row makes --new-tokens), random prompts of --prompt-length tokens, KV cache on
(transformers' default DynamicCache), eager float32 on CPU. Reports the best of --repeats after a warm-up.
"""
import argparse
import time

import torch
from transformers import LlamaForCausalLM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--batches", default="1,16")
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--prompt-length", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = LlamaForCausalLM.from_pretrained(args.model, torch_dtype=torch.float32).eval()
    g = torch.Generator().manual_seed(99)
    vocab = model.config.vocab_size
    for b in [int(x) for x in args.batches.split(",")]:
        ids = torch.randint(3, vocab, (b, args.prompt_length), generator=g)
        mask = torch.ones_like(ids)
        kw = dict(attention_mask=mask, max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens,
                  do_sample=False, eos_token_id=None, pad_token_id=0)
        with torch.inference_mode():
            model.generate(ids, **kw)
            best = float("inf")
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                out = model.generate(ids, **kw)
                best = min(best, time.perf_counter() - t0)
        assert out.shape[1] == args.prompt_length + args.new_tokens
        print(f"torch generate  batch {b:3d}  prompt {args.prompt_length}  new {args.new_tokens}  threads {args.threads}  "
              f"{best:.3f} s  {b * args.new_tokens / best:8.1f} tokens/s  (torch {torch.__version__})")


if __name__ == "__main__":
    main()
