#!/usr/bin/env python3
"""Paired comparison of a reward model with the length baseline on the same pairs (not a test): loads the
reward-model artifact with transformers (`LlamaForSequenceClassification`, the layout the stage saves),
scores [BOS] + prompt + reply + [EOS] (prompt left-truncated to the model context, pairs whose prompt alone
fills it skipped, as `rlhf reward eval --skip-long-prompts`), and prints accuracy, the baseline, and the mean
and standard error of the per-pair difference d = [r_c > r_r] - baseline (ties 1/2).

    python3 benchmarks/reward/paired.py --model RM_DIR --test test.jsonl [--threads 1]
"""
import argparse, json, math

import torch
from tokenizers import Tokenizer
from transformers import LlamaForSequenceClassification

MARKER = "\n\nAssistant:"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    tok = Tokenizer.from_file(f"{a.model}/tokenizer.json")
    bos, eos = tok.token_to_id("<|begin_of_text|>"), tok.token_to_id("<|end_of_text|>")
    enc = lambda s: tok.encode(s, add_special_tokens=False).ids
    model = LlamaForSequenceClassification.from_pretrained(a.model, num_labels=1, torch_dtype=torch.float32).eval()
    ctx = model.config.max_position_embeddings
    d, acc = [], 0
    for line in open(a.test, encoding="utf-8"):
        if not line.strip():
            continue
        o = json.loads(line)
        ci, ri = o["chosen"].rfind(MARKER), o["rejected"].rfind(MARKER)
        if ci < 0 or ri < 0:
            continue
        prompt, c, r = o["chosen"][: ci + len(MARKER)], o["chosen"][ci + len(MARKER):], o["rejected"][ri + len(MARKER):]
        if prompt != o["rejected"][: ri + len(MARKER)] or c == r:
            continue
        p = [bos] + enc(prompt)
        if len(p) >= ctx:
            continue
        rc, rr = enc(c) + [eos], enc(r) + [eos]
        with torch.no_grad():
            s = [model(input_ids=torch.tensor([(p + x)[-ctx:]])).logits[0, 0].item() for x in (rc, rr)]
        ok = 1.0 if s[0] > s[1] else 0.0
        lc, lr = len(rc), len(rr)
        base = 1.0 if lc < lr else 0.5 if lc == lr else 0.0
        acc += ok
        d.append(ok - base)
    n = len(d)
    mean = sum(d) / n
    se = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1) / n)
    print(json.dumps({"n": n, "accuracy": acc / n, "length_baseline_accuracy": acc / n - mean, "mean_difference": mean,
                      "se_difference": se}))


if __name__ == "__main__":
    main()
