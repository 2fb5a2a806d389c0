#!/usr/bin/env python3
"""TRL RewardTrainer peer of the `reward-model` stage (not a test).

Trains a LlamaForSequenceClassification (num_labels=1) from the same base model directory on the same
train file with the same tokenization ([BOS] + prompt, response + [EOS], prompt left-truncated to fit
max_length), batch size, steps and learning rate (linear decay, AdamW, weight decay 0), then reports
accuracy on the test file and the length baseline, as `rlhf reward eval --json` does.

    pip install --no-deps trl==0.11.4 && pip install datasets accelerate
    python3 benchmarks/trl_reward.py --model BASE_DIR --train train.jsonl --test test.jsonl \
        --steps 200 --batch-size 8 --lr 1e-4 --max-length 256
"""
import argparse, json, time

import torch
from datasets import Dataset
from tokenizers import Tokenizer
from transformers import LlamaForSequenceClassification, PreTrainedTokenizerFast
import transformers
from trl import RewardConfig, RewardTrainer

# trl 0.11.4 passes `tokenizer=` to transformers' Trainer, which transformers 5 renamed `processing_class`.
_trainer_init = transformers.Trainer.__init__


def _init_accepting_tokenizer(self, *args, tokenizer=None, **kwargs):
    if tokenizer is not None and "processing_class" not in kwargs:
        kwargs["processing_class"] = tokenizer
    _trainer_init(self, *args, **kwargs)


transformers.Trainer.__init__ = _init_accepting_tokenizer


class CompatRewardTrainer(RewardTrainer):
    """trl 0.11.4's RewardTrainer with transformers 5's `compute_loss(..., num_items_in_batch)`: the loss
    is TRL's own (-logsigmoid(r_c - r_r) mean), the extra argument is ignored."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        return super().compute_loss(model, inputs, return_outputs=return_outputs)

MARKER = "\n\nAssistant:"


def split(transcript):
    i = transcript.rfind(MARKER)
    return (transcript[: i + len(MARKER)], transcript[i + len(MARKER):]) if i >= 0 else None


def read_hh(path):
    out = []
    for line in open(path, encoding="utf-8"):
        if not line.strip():
            continue
        o = json.loads(line)
        c, r = split(o["chosen"]), split(o["rejected"])
        if c is None or r is None or c[0] != r[0] or c[1] == r[1]:
            continue  # same rule as `rlhf prefs import`: skip pairs whose prompts differ or replies are equal
        out.append((c[0], c[1], r[1]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--eval-max-length", type=int, default=0,
                    help="tokens of prompt + response at evaluation (0: --max-length); `rlhf reward eval` uses the model's context")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    tok = Tokenizer.from_file(f"{a.model}/tokenizer.json")
    bos, eos, pad = tok.token_to_id("<|begin_of_text|>"), tok.token_to_id("<|end_of_text|>"), tok.token_to_id("<|pad|>")
    enc = lambda s: tok.encode(s, add_special_tokens=False).ids

    def seq(prompt, response, max_length):
        p, r = [bos] + enc(prompt), enc(response) + [eos]
        if len(p) >= max_length:
            return None
        if len(p) + len(r) > max_length:
            keep = min(len(p), max(1, max_length - len(r)))
            p = p[-keep:]
            r = r[: max_length - keep]
        return p + r

    def rows(triples, max_length):
        d = {"input_ids_chosen": [], "attention_mask_chosen": [], "input_ids_rejected": [], "attention_mask_rejected": []}
        lens = []
        for prompt, c, r in triples:
            sc, sr = seq(prompt, c, max_length), seq(prompt, r, max_length)
            if sc is None or sr is None:
                continue
            d["input_ids_chosen"].append(sc); d["attention_mask_chosen"].append([1] * len(sc))
            d["input_ids_rejected"].append(sr); d["attention_mask_rejected"].append([1] * len(sr))
            lens.append((len(enc(c)), len(enc(r))))
        return d, lens

    train, _ = rows(read_hh(a.train), a.max_length)
    test, test_lens = rows(read_hh(a.test), a.eval_max_length or a.max_length)
    hf_tok = PreTrainedTokenizerFast(tokenizer_file=f"{a.model}/tokenizer.json", bos_token="<|begin_of_text|>",
                                     eos_token="<|end_of_text|>", pad_token="<|pad|>")
    model = LlamaForSequenceClassification.from_pretrained(a.model, num_labels=1, torch_dtype=torch.float32)
    model.config.pad_token_id = pad
    cfg = RewardConfig(output_dir="/tmp/trl-reward-out", per_device_train_batch_size=a.batch_size, max_steps=a.steps,
                       learning_rate=a.lr, weight_decay=0.0, lr_scheduler_type="linear", max_grad_norm=1.0,
                       logging_steps=max(1, a.steps // 10), save_strategy="no", report_to=[], seed=a.seed,
                       max_length=a.max_length, remove_unused_columns=False, use_cpu=True, eval_strategy="no")
    trainer = CompatRewardTrainer(model=model, args=cfg, tokenizer=hf_tok, train_dataset=Dataset.from_dict(train))
    t0 = time.time()
    trainer.train()
    seconds = time.time() - t0
    model.eval()
    correct, margins = 0, []
    with torch.no_grad():
        for ic, ir in zip(test["input_ids_chosen"], test["input_ids_rejected"]):
            rc = model(input_ids=torch.tensor([ic])).logits[0, 0].item()
            rr = model(input_ids=torch.tensor([ir])).logits[0, 0].item()
            correct += rc > rr
            margins.append(rc - rr)
    n = len(margins)
    base = sum(1.0 if lc < lr else 0.5 if lc == lr else 0.0 for lc, lr in test_lens) / n
    print(json.dumps({"peer": "trl.RewardTrainer", "trl": __import__("trl").__version__, "accuracy": correct / n, "n": n,
                      "mean_margin": sum(margins) / n, "length_baseline_accuracy": base, "train_pairs": len(train["input_ids_chosen"]),
                      "train_seconds": round(seconds, 1)}))


if __name__ == "__main__":
    main()
