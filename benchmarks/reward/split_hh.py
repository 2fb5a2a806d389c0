#!/usr/bin/env python3
"""Seeded K-fold split of an hh-rlhf comparison file for the reward-model benchmark (not a test).

Writes OUT/fold{k}/train.jsonl and OUT/fold{k}/test.jsonl for k in 0..K-1: the lines are shuffled with
`random.Random(seed)`, cut into K contiguous folds, fold k is the test part and the other K-1 folds the
train part (every pair is tested exactly once, never trained on in its own fold). With --val-fraction,
OUT/fold{k}/train_fit.jsonl and OUT/fold{k}/val.jsonl split the train part again (seeded) for sweeps, so
nothing is tuned on the test fold. Lines are copied byte for byte.

    python3 benchmarks/reward/split_hh.py annotations/hh-rlhf-harmless-base/test_shared.jsonl /tmp/rm-split \
        --folds 3 --seed 1234 --val-fraction 0.2
"""
import argparse, hashlib, os, random


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("out")
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--val-fraction", type=float, default=0.0)
    a = ap.parse_args()
    lines = [l if l.endswith("\n") else l + "\n" for l in open(a.file, encoding="utf-8") if l.strip()]
    order = list(range(len(lines)))
    random.Random(a.seed).shuffle(order)
    bounds = [round(i * len(lines) / a.folds) for i in range(a.folds + 1)]
    for k in range(a.folds):
        test = set(order[bounds[k]:bounds[k + 1]])
        train = [i for i in order if i not in test]
        d = os.path.join(a.out, f"fold{k}")
        os.makedirs(d, exist_ok=True)
        write(os.path.join(d, "test.jsonl"), [lines[i] for i in sorted(test)])
        write(os.path.join(d, "train.jsonl"), [lines[i] for i in sorted(train)])
        if a.val_fraction > 0:
            rest = train[:]
            random.Random(a.seed + 1 + k).shuffle(rest)
            n_val = round(len(rest) * a.val_fraction)
            write(os.path.join(d, "val.jsonl"), [lines[i] for i in sorted(rest[:n_val])])
            write(os.path.join(d, "train_fit.jsonl"), [lines[i] for i in sorted(rest[n_val:])])
        print(f"fold{k}: train {len(train)} test {len(test)}")
    print("sha256 of input:", hashlib.sha256("".join(lines).encode()).hexdigest()[:16])


def write(path, lines):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(lines)
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
