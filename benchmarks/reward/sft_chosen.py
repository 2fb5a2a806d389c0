#!/usr/bin/env python3
"""Domain-adaptation step before reward-model training (DeepSpeed-Chat step 1 / InstructGPT SFT), not a
test: fine-tune a causal Llama on [BOS] + prompt + chosen reply + [EOS] of the TRAIN part only (next-token
loss on every token, AdamW, linear decay, prompts left-truncated to --max-length), and save a Hugging Face
directory with the base's tokenizer files. Used as a `command` stage before `reward-model` and as the base
of the TRL peer, so both reward models start from the same weights.

    python3 benchmarks/reward/sft_chosen.py --model BASE --train train.jsonl --out DIR --epochs 1 --lr 3e-4
"""
import argparse, json, math, os, random, shutil

import torch
from tokenizers import Tokenizer
from transformers import LlamaForCausalLM

MARKER = "\n\nAssistant:"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--train", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1234)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    tok = Tokenizer.from_file(f"{a.model}/tokenizer.json")
    bos, eos, pad = (tok.token_to_id(t) for t in ("<|begin_of_text|>", "<|end_of_text|>", "<|pad|>"))
    seqs = []
    for line in open(a.train, encoding="utf-8"):
        if line.strip():
            c = json.loads(line)["chosen"]
            i = c.rfind(MARKER)
            if i < 0:
                continue
            p = [bos] + tok.encode(c[: i + len(MARKER)], add_special_tokens=False).ids
            r = tok.encode(c[i + len(MARKER):], add_special_tokens=False).ids + [eos]
            r = r[: a.max_length - 1]
            seqs.append(p[-(a.max_length - len(r)):] + r)
    model = LlamaForCausalLM.from_pretrained(a.model, torch_dtype=torch.float32)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.0)
    steps = a.epochs * math.ceil(len(seqs) / a.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1 - s / steps)
    rng, step = random.Random(a.seed), 0
    model.train()
    for _ in range(a.epochs):
        order = list(range(len(seqs)))
        rng.shuffle(order)
        for j in range(0, len(order), a.batch_size):
            batch = [seqs[k] for k in order[j: j + a.batch_size]]
            t = max(map(len, batch))
            ids = torch.tensor([s + [pad] * (t - len(s)) for s in batch])
            mask = torch.tensor([[1] * len(s) + [0] * (t - len(s)) for s in batch])
            labels = ids.masked_fill(mask == 0, -100)
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step(); sched.step(); step += 1
            if step % 20 == 0 or step == steps:
                print(json.dumps({"step": step, "loss": round(loss.item(), 4)}), flush=True)
    # Into a fresh temporary directory, then renamed (a `command` stage's $RLHF_OUTPUT_DIR is itself temporary).
    tmp = a.out.rstrip("/") + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if os.path.exists(f"{a.model}/{f}"):
            shutil.copy(f"{a.model}/{f}", tmp)
    os.makedirs(a.out, exist_ok=True)
    for f in os.listdir(tmp):
        os.replace(os.path.join(tmp, f), os.path.join(a.out, f))
    os.rmdir(tmp)


if __name__ == "__main__":
    main()
