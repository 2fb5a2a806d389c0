#!/usr/bin/env python3
"""Table of a measure.sh results file: per fold and mean (pair-weighted) accuracy of ours, TRL and the
length baseline, with the standard error of the pooled accuracy sqrt(p(1-p)/n). Several files are merged
(e.g. ours and TRL measured by separate runs of measure.sh on the same split).

    python3 benchmarks/reward/summarize.py RESULTS.jsonl [MORE.jsonl ...]"""
import json, math, sys

rows = [json.loads(l) for path in sys.argv[1:] for l in open(path) if l.strip()]
folds = sorted({r["fold"] for r in rows})
peers = [p for p in ("ours", "trl") if any(r["peer"] == p for r in rows)]
print(f"{'fold':>6} " + " ".join(f"{p + ' acc':>10} {p + ' n':>6}" for p in peers) + f" {'length bl':>10} {'steps':>6}")
tot = {p: [0.0, 0] for p in peers}
bl = [0.0, 0]
for f in folds:
    line, base = f"{f:>6} ", None
    for p in peers:
        r = next((r for r in rows if r["fold"] == f and r["peer"] == p), None)
        if r is None:
            line += f"{'-':>10} {'-':>6} "
            continue
        line += f"{r['accuracy']:>10.4f} {r['n']:>6} "
        tot[p][0] += r["accuracy"] * r["n"]; tot[p][1] += r["n"]
        if base is None:
            base = (r["length_baseline_accuracy"], r["n"], r["steps"])
    if base:
        bl[0] += base[0] * base[1]; bl[1] += base[1]
        line += f"{base[0]:>10.4f} {base[2]:>6}"
    print(line)
se = lambda p, n: math.sqrt(p * (1 - p) / n) if n else float("nan")
line = f"{'mean':>6} "
for p in peers:
    acc = tot[p][0] / max(1, tot[p][1])
    line += f"{acc:>10.4f} {tot[p][1]:>6} "
print(line + (f"{bl[0] / bl[1]:>10.4f}" if bl[1] else ""))
print("SE of a pooled accuracy: " + ", ".join(f"{p} ±{se(tot[p][0] / max(1, tot[p][1]), tot[p][1]):.4f}" for p in peers))
