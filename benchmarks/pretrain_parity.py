#!/usr/bin/env python3
"""Pretraining parity: our `rlhf pretrain` and `benchmarks/torch_pretrain.py` on the same token files, the
same window order, the same initial weights and the same number of steps; prints the `eval_loss` curves
side by side (step | ours | torch | rel diff) as a Markdown table.

    python3 benchmarks/pretrain_parity.py --out DIR [--rlhf .build/release/rlhf] [--threads 1] \
        [--sequential] -- RLHF_PRETRAIN_ARGS...
    python3 benchmarks/pretrain_parity.py --compare OURS_LOG TORCH_JSON_OR_LOG   # only print the table

RLHF_PRETRAIN_ARGS are the arguments of `rlhf pretrain` except `--out`, `--threads` and `--json` (e.g.
`--tokenizer TOK --corpus C --manifest M --steps 1200 --eval-interval 100 ...`). The script

1. starts `rlhf pretrain ... --save-initial-checkpoint --out DIR/ours --threads T` (log: DIR/ours.log),
2. as soon as `DIR/ours/checkpoint-0` (the initial weights) exists, copies it to DIR/init and starts
   `torch_pretrain.py --run DIR/ours --init DIR/init --threads T --json DIR/torch.json` (log: DIR/torch.log),
   concurrently unless `--sequential`,
3. waits for both and prints the table (also written to DIR/parity.md) and the wall time of each.

Running both at once with `--threads 1` each uses the two cores of the machine and halves the wall time;
tokens/s of either run is then not a speed benchmark (use `rlhf-bench train-step` for that).
Exit status 1 when some eval point differs by more than `--tolerance` (default 2%).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def swift_curve(log_path):
    """eval_loss by step from the logfmt lines of `rlhf pretrain` (non-terminal output)."""
    curve = {}
    with open(log_path) as f:
        for line in f:
            m = re.search(r"\bstep=(\d+)\b.*\beval_loss=([0-9.eE+-]+|nan)", line)
            if m:
                curve[int(m.group(1))] = float(m.group(2))
    return curve


def torch_curve(path):
    """eval_loss by step from torch_pretrain.py's --json file, or from its stdout (one JSON object per
    evaluation: usable while the run is still going)."""
    with open(path) as f:
        text = f.read()
    try:
        data = json.loads(text)
        if isinstance(data, dict) and "torch" in data:
            return {int(s): float(v) for s, v in data["torch"]["eval_loss"]}
    except json.JSONDecodeError:
        pass
    curve = {}
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and "eval_loss" in row and "step" in row:
            curve[int(row["step"])] = float(row["eval_loss"])
    return curve


def table(ours, torch, tolerance):
    """Markdown table over the steps both curves have; returns (text, worst relative difference)."""
    rows = ["| step | ours eval_loss | torch eval_loss | rel diff | ours ppl | torch ppl |",
            "|---:|---:|---:|---:|---:|---:|"]
    worst = 0.0
    import math
    for s in sorted(set(ours) & set(torch)):
        a, b = ours[s], torch[s]
        rel = (a - b) / b
        worst = max(worst, abs(rel))
        flag = "" if abs(rel) <= tolerance else " **over**"
        rows.append(f"| {s} | {a:.4f} | {b:.4f} | {100 * rel:+.2f}%{flag} | {math.exp(a):.2f} | {math.exp(b):.2f} |")
    missing = sorted(set(ours) ^ set(torch))
    if missing:
        rows.append(f"\n(steps in only one curve: {missing})")
    return "\n".join(rows), worst


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="working directory (created; must not hold a previous run)")
    ap.add_argument("--rlhf", default=os.path.join(HERE, "..", ".build", "release", "rlhf"), help="the rlhf binary")
    ap.add_argument("--threads", type=int, default=1, help="threads of each run (OpenBLAS / torch)")
    ap.add_argument("--sequential", action="store_true", help="run torch after ours instead of concurrently")
    ap.add_argument("--tolerance", type=float, default=0.02, help="largest allowed |ours - torch| / torch")
    ap.add_argument("--compare", nargs=2, metavar=("OURS_LOG", "TORCH_JSON_OR_LOG"), help="only print the table")
    ap.add_argument("pretrain_args", nargs=argparse.REMAINDER, help="-- then the rlhf pretrain arguments")
    args = ap.parse_args()

    if args.compare:
        text, worst = table(swift_curve(args.compare[0]), torch_curve(args.compare[1]), args.tolerance)
        print(text)
        print(f"\nlargest relative difference: {100 * worst:.2f}% (tolerance {100 * args.tolerance:.1f}%)")
        sys.exit(0 if worst <= args.tolerance else 1)

    if not args.out:
        ap.error("--out is required (or --compare)")
    extra = args.pretrain_args[1:] if args.pretrain_args[:1] == ["--"] else args.pretrain_args
    for forbidden in ("--out", "--threads", "--json", "--resume"):
        if forbidden in extra:
            ap.error(f"{forbidden} is set by this script; remove it from the rlhf pretrain arguments")
    os.makedirs(args.out, exist_ok=True)
    ours_dir, init_dir = os.path.join(args.out, "ours"), os.path.join(args.out, "init")
    if os.path.exists(ours_dir):
        sys.exit(f"{ours_dir} exists: choose a fresh --out")
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))

    t0 = time.time()
    ours_log = os.path.join(args.out, "ours.log")
    ours = subprocess.Popen([args.rlhf, "pretrain", *extra, "--save-initial-checkpoint", "--out", ours_dir,
                             "--threads", str(args.threads)],
                            stdout=open(ours_log, "w"), stderr=subprocess.STDOUT, env=env)
    ckpt0 = os.path.join(ours_dir, "checkpoint-0")
    while not os.path.isdir(ckpt0):
        if ours.poll() is not None:
            sys.exit(f"rlhf pretrain exited ({ours.returncode}) before writing checkpoint-0; see {ours_log}")
        time.sleep(0.5)
    shutil.copytree(ckpt0, init_dir)  # checkpoint directories appear by rename: complete once visible
    times = {}
    if args.sequential:
        ours.wait()
        times["ours"] = time.time() - t0
    torch_json, torch_log = os.path.join(args.out, "torch.json"), os.path.join(args.out, "torch.log")
    t1 = time.time()
    torch = subprocess.Popen([sys.executable, os.path.join(HERE, "torch_pretrain.py"), "--run", ours_dir, "--init", init_dir,
                              "--threads", str(args.threads), "--json", torch_json],
                             stdout=open(torch_log, "w"), stderr=subprocess.STDOUT, env=env)
    if not args.sequential:
        ours.wait()
        times["ours"] = time.time() - t0
    torch.wait()
    times["torch"] = time.time() - t1
    if ours.returncode != 0 or torch.returncode != 0:
        sys.exit(f"a run failed (rlhf {ours.returncode}, torch {torch.returncode}); see {ours_log} and {torch_log}")
    text, worst = table(swift_curve(ours_log), torch_curve(torch_json), args.tolerance)
    summary = (f"\nlargest relative difference: {100 * worst:.2f}% (tolerance {100 * args.tolerance:.1f}%); "
               f"wall time: ours {times['ours']:.0f} s, torch {times['torch']:.0f} s "
               f"({'sequential' if args.sequential else 'concurrent'}, {args.threads} thread(s) each)")
    print(text + summary)
    with open(os.path.join(args.out, "parity.md"), "w") as f:
        f.write(text + "\n" + summary + "\n")
    sys.exit(0 if worst <= args.tolerance else 1)


if __name__ == "__main__":
    main()
