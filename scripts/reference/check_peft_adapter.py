#!/usr/bin/env python3
"""Checks that a LoRA `ppo` artifact loads with PEFT onto its input model and matches the merged artifact.

  python3 scripts/reference/check_peft_adapter.py --base BASE_DIR --adapter ART/adapter [--merged MERGED_DIR]

Loads BASE_DIR with transformers, applies the adapter with `PeftModel.from_pretrained`, and prints the
largest |logit difference| against the base (the adapter must change something) and, with --merged, against
the merged model written by `merge: true` (must be ~1e-5). Exits 1 when the merged logits differ by more
than 1e-3.
"""
import argparse
import sys

import torch
from peft import PeftModel
from transformers import LlamaForCausalLM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--adapter", required=True)
    ap.add_argument("--merged")
    a = ap.parse_args()
    base = LlamaForCausalLM.from_pretrained(a.base, torch_dtype=torch.float32).eval()
    ids = torch.tensor([[0, 5, 9, 17, 33, 42, 7, 3, 100, 200]])
    with torch.no_grad():
        base_logits = base(ids).logits
        peft_model = PeftModel.from_pretrained(base, a.adapter).eval()
        adapted = peft_model(ids).logits
        print(f"adapter vs base: max |dlogit| = {(adapted - base_logits).abs().max().item():.3e}")
        if a.merged:
            merged = LlamaForCausalLM.from_pretrained(a.merged, torch_dtype=torch.float32).eval()
            d = (merged(ids).logits - adapted).abs().max().item()
            print(f"merged vs peft adapter: max |dlogit| = {d:.3e}")
            if d > 1e-3:
                sys.exit(1)


if __name__ == "__main__":
    main()
