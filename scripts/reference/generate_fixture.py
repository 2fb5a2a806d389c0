#!/usr/bin/env python3
"""Greedy-generation parity fixture for the Swift KV-cache generation, computed by transformers' `generate`.

Reads the model Tests/LlamaTests/Fixtures/untied (written by llama_fixture.py) and writes
Tests/LlamaTests/Fixtures/generate.json:
  prompts                    token-id lists of different lengths (left-padded together by `generate`)
  max_new_tokens
  cases[]: eos_token_id (null: budget only), new_tokens per row (truncated after the first EOS, EOS kept),
           log_probs per row (log_softmax of the step's logits at the chosen token)

Versions used: torch 2.13.0+cpu, transformers 5.24.0. Regenerate (from the repository root):
  python3 scripts/reference/generate_fixture.py
"""
import json
import os

import torch
from transformers import LlamaForCausalLM

FIX = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "LlamaTests", "Fixtures")
PROMPTS = [[1, 17, 33, 5, 9, 60, 12], [1, 40], [1, 8, 8, 21], [1, 3, 50, 2, 44, 6]]
MAX_NEW = 12


def main():
    model = LlamaForCausalLM.from_pretrained(os.path.join(FIX, "untied"), torch_dtype=torch.float32).eval()
    t = max(len(p) for p in PROMPTS)
    ids = torch.tensor([[0] * (t - len(p)) + p for p in PROMPTS])
    mask = torch.tensor([[0] * (t - len(p)) + [1] * len(p) for p in PROMPTS])
    # EOS 2 in the first case; in the second, an id the budget-only run emits at step 3 of row 1 (found below).
    free = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=MAX_NEW, do_sample=False,
                          eos_token_id=None, pad_token_id=0)
    eos_from_output = int(free[1, t + 3])
    cases = []
    for eos in [None, eos_from_output]:
        out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=MAX_NEW, do_sample=False,
                             eos_token_id=eos, pad_token_id=0, output_scores=True, output_logits=True,
                             return_dict_in_generate=True)
        seqs = out.sequences[:, t:]
        logps = torch.stack([torch.log_softmax(l.float(), dim=-1) for l in out.logits], dim=1)
        rows, lps = [], []
        for b in range(len(PROMPTS)):
            toks = seqs[b].tolist()
            if eos is not None and eos in toks:
                toks = toks[: toks.index(eos) + 1]
            rows.append(toks)
            lps.append([float(logps[b, s, tok]) for s, tok in enumerate(toks)])
        cases.append({"eos_token_id": eos, "new_tokens": rows, "log_probs": lps})
    with open(os.path.join(FIX, "generate.json"), "w") as f:
        json.dump({"prompts": PROMPTS, "max_new_tokens": MAX_NEW, "cases": cases}, f, indent=1)


if __name__ == "__main__":
    main()
