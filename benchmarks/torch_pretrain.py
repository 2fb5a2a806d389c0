#!/usr/bin/env python3
"""Train the configuration of an `rlhf pretrain` run in PyTorch, on the same token files and the same
window order, and print the loss curves side by side (the peer of our Pretrainer).

    python3 benchmarks/torch_pretrain.py --run OUT [--init DIR] [--steps N] [--threads 2] [--json FILE]

OUT is the `--out` directory of `rlhf pretrain` (or a pipeline stage's checkpoint directory holding
`data/` and `checkpoints/`): the script reads `data/train.{bin,json}`, `data/validation.{bin,json}`, and
`config.json` + `training_args.json` of `--init` (when given) or else of the newest `checkpoint-*`.

Initial weights: with `--init DIR` (a checkpoint directory, e.g. the `checkpoint-0` that
`rlhf pretrain --save-initial-checkpoint` writes), `model.safetensors` of DIR is loaded, so both runs
start from the same weights (`benchmarks/pretrain_parity.py` does this). Without it, transformers'
initialisation, normal(0, initializer_range) seeded by the run's seed (not Swift's generator).

Training: windows drawn with the same xoshiro256** stream (`scripts/reference/xoshiro.py`), the same
update rule: mean cross-entropy per micro-batch / accumulation, `clip_grad_norm_`, `torch.optim.AdamW`
(decay on linear weights only: q/k/v/o, MLP, untied lm_head), linear warm-up then cosine to the floor
(nanoGPT's formula). Evaluation: the same first `eval_batches * batch_size` sequential windows of the
validation file, mean nats/token, every `eval_steps` and at the end.

If a Swift log is passed with `--swift-log FILE` (the logfmt lines `rlhf pretrain` printed), the two
curves are printed side by side with the relative difference.
"""
import argparse
import glob
import json
import math
import os
import re
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "reference"))
from xoshiro import Xoshiro256StarStar  # noqa: E402


def read_tokens(base):
    with open(base + ".json") as f:
        header = json.load(f)
    dtype = np.uint16 if header["dtype"] == "uint16" else np.uint32
    data = np.memmap(base + ".bin", dtype=dtype, mode="r")
    assert len(data) == header["count"], f"{base}.bin holds {len(data)} ids, header says {header['count']}"
    return data


def newest_checkpoint(run):
    found = []
    for root in (run, os.path.join(run, "checkpoints")):
        for d in glob.glob(os.path.join(root, "checkpoint-*")):
            m = re.fullmatch(r"checkpoint-(\d+)", os.path.basename(d))
            if m:
                found.append((int(m.group(1)), d))
    if not found:
        sys.exit(f"no checkpoint-* under {run}")
    return max(found)[1]


def lr_at(step, a):
    if step < a["warmup_steps"]:
        return a["learning_rate"] * (step + 1) / a["warmup_steps"]
    if step >= a["max_steps"]:
        return a["min_learning_rate"]
    r = (step - a["warmup_steps"]) / (a["max_steps"] - a["warmup_steps"])
    return a["min_learning_rate"] + 0.5 * (1 + math.cos(math.pi * r)) * (a["learning_rate"] - a["min_learning_rate"])


def batch(data, offsets, T):
    rows = np.stack([np.asarray(data[o:o + T + 1], dtype=np.int64) for o in offsets])
    t = torch.from_numpy(rows)
    return t[:, :-1].contiguous(), t[:, 1:].contiguous()


@torch.no_grad()
def evaluate(model, val, a):
    B, T = a["per_device_train_batch_size"], a["seq_len"]
    windows = (len(val) - 1) // T
    if a["eval_batches"] > 0:
        windows = min(windows, a["eval_batches"] * B)
    total, count = 0.0, 0
    for start in range(0, windows, B):
        offs = [k * T for k in range(start, min(windows, start + B))]
        x, y = batch(val, offs, T)
        logits = model(input_ids=x).logits
        total += F.cross_entropy(logits.view(-1, logits.size(-1)).float(), y.view(-1), reduction="sum").item()
        count += y.numel()
    return total / count


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="the rlhf pretrain --out directory")
    ap.add_argument("--init", help="checkpoint directory whose model.safetensors, config.json and training_args.json to start from")
    ap.add_argument("--steps", type=int, help="steps to train (default: the run's max_steps)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--swift-log", help="stdout of `rlhf pretrain` (logfmt lines) to compare eval_loss with")
    ap.add_argument("--json", help="write the curves as JSON here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from transformers import LlamaConfig, LlamaForCausalLM

    ckpt = args.init or newest_checkpoint(args.run)
    with open(os.path.join(ckpt, "training_args.json")) as f:
        a = json.load(f)
    with open(os.path.join(ckpt, "config.json")) as f:
        cfg = json.load(f)
    data_dir = os.path.join(args.run, "data")
    train, val = read_tokens(os.path.join(data_dir, "train")), read_tokens(os.path.join(data_dir, "validation"))
    steps = args.steps or a["max_steps"]
    B, T, accum = a["per_device_train_batch_size"], a["seq_len"], a["gradient_accumulation_steps"]

    torch.manual_seed(a["seed"])
    config = LlamaConfig(**{k: v for k, v in cfg.items() if k not in ("architectures", "model_type", "transformers_version")})
    model = LlamaForCausalLM(config)
    if args.init:
        from safetensors.torch import load_file
        missing, unexpected = model.load_state_dict(load_file(os.path.join(args.init, "model.safetensors")), strict=False)
        # rotary inv_freq buffers are not saved; every weight must be.
        missing = [k for k in missing if "rotary_emb" not in k]
        if missing or unexpected:
            sys.exit(f"{args.init}/model.safetensors: missing {missing}, unexpected {unexpected}")
    model.train()
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.dim() == 2 and "embed_tokens" not in name else no_decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=a["learning_rate"], betas=(a["adam_beta1"], a["adam_beta2"]), eps=a["adam_epsilon"])
    rng = Xoshiro256StarStar(seed=a["seed"])
    curve = {"loss": [], "eval_loss": []}
    eval_every = a["eval_steps"]
    started = time.time()
    train_seconds = 0.0
    for step in range(steps):
        t0 = time.time()
        opt.zero_grad(set_to_none=True)
        total = 0.0
        for _ in range(accum):
            x, y = batch(train, rng.window_offsets(len(train), T, B), T)
            logits = model(input_ids=x).logits
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1))
            (loss / accum).backward()
            total += loss.item()
        if a["max_grad_norm"] > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), a["max_grad_norm"])
        for g in opt.param_groups:
            g["lr"] = lr_at(step, {**a, "max_steps": a["max_steps"]})
        opt.step()
        train_seconds += time.time() - t0
        s = step + 1
        curve["loss"].append((s, total / accum))
        if (eval_every > 0 and s % eval_every == 0) or s == steps:
            model.eval()
            el = evaluate(model, val, a)
            model.train()
            curve["eval_loss"].append((s, el))
            print(json.dumps({"step": s, "loss": round(total / accum, 5), "eval_loss": round(el, 5),
                              "tokens_per_second": round(s * B * T * accum / train_seconds, 1)}), flush=True)
    tps = steps * B * T * accum / train_seconds
    print(json.dumps({"torch_final_eval_loss": curve["eval_loss"][-1][1], "tokens_per_second": tps,
                      "wall_seconds": time.time() - started}))
    if args.swift_log:
        swift = {}
        for line in open(args.swift_log):
            m = re.search(r"step=(\d+) eval_loss=([0-9.eE+-]+)", line)
            if m:
                swift[int(m.group(1))] = float(m.group(2))
        print(f"{'step':>6} {'swift':>9} {'torch':>9} {'rel diff':>9}")
        for s, el in curve["eval_loss"]:
            if s in swift:
                print(f"{s:>6} {swift[s]:9.4f} {el:9.4f} {100 * (swift[s] - el) / el:8.2f}%")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"torch": curve, "tokens_per_second": tps}, f)


if __name__ == "__main__":
    main()
