#!/bin/bash
# Issue 2 and 4 peers side by side, back to back: train step (2 and 1 threads), sgemm peak, generation.
# Run on a quiet machine from the repo root after `swift build -c release`: bash benchmarks/core-side-by-side.sh
cd "$(dirname "$0")/.."
B=.build/release/rlhf-bench
A="--hidden 256 --intermediate 688 --layers 4 --heads 8 --kv-heads 8 --vocab 2048 --batch 8 --seq 256"
uptime
for t in 2 1; do echo "== train-step threads $t"; $B train-step $A --threads $t | tail -1; python3 benchmarks/torch_train_step.py $A --threads $t | tail -1; done
$B sgemm --threads 2 --seconds 0.5 | tail -1
echo "== generate threads 2"
$B generate --threads 2 --save-model /tmp/bench-gen-model | tail -3
python3 benchmarks/torch_generate.py --model /tmp/bench-gen-model --threads 2 2>&1 | grep -v Warn | tail -3
uptime
