#!/bin/sh
# Measures rag-inject on a data set: runs a two-stage pipeline (`command` copying a base model,
# `rag-inject`) and prints the stage's metrics (closed/open-book EM and F1 of the base and the tuned
# model, recall@1/3/5, seconds).
# The base is BASE (a Hugging Face model directory with tokenizer.json, e.g. a pretrain artifact) when
# set; otherwise a randomly initialised tiny Llama written by init_model.py (transformers) next to a BPE
# tokenizer trained on the Gutenberg corpus.
#
# usage: [BASE=DIR] [EVAL_FRACTION=0.2] benchmarks/rag/measure.sh WORKDIR DATASET STEPS [extra rag-inject params as YAML flow entries]
#   e.g. benchmarks/rag/measure.sh /tmp/rag-m elements-rag 300
#        BASE=.rlhf/artifacts/<pretrain digest> benchmarks/rag/measure.sh /tmp/rag-fb factbook1992-rag 900 \
#          "top_k: 3, field_questions: 1500, eval_fraction: 0.3"
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$1; data=$2; steps=$3; extra=${4:-}
rlhf=${RLHF:-$repo/.build/release/rlhf}
mkdir -p "$work"
base=${BASE:-}
if [ -z "$base" ]; then
  base=$work/base
  if [ ! -f "$work/tokenizer/tokenizer.json" ]; then
    "$rlhf" tokenizer train --corpus "$repo/pipelines/data/gutenberg-classics/corpus.txt" --vocab-size 2048 --out "$work/tokenizer"
  fi
  if [ ! -f "$base/model.safetensors" ]; then
    python3 "$repo/benchmarks/rag/init_model.py" "$work/tokenizer" "$base" --hidden ${HIDDEN:-128} --layers ${LAYERS:-4} --heads 4 --ctx 256
  fi
fi
base=$(cd "$base" && pwd)
cat > "$work/pipeline.yaml" <<YAML
name: rag-measure
seed: 1234
stages:
  pretrain:
    kind: command
    params:
      run: cp -R "$base/." "\$RLHF_OUTPUT_DIR/"
      deps: ["$base"]
  rag:
    kind: rag-inject
    needs: [pretrain]
    params: {knowledge: "$repo/pipelines/data/$data/kb.jsonl", train_questions: "$repo/pipelines/data/$data/qa_shared.jsonl",
             eval_fraction: ${EVAL_FRACTION:-0.2}, steps: $steps ${extra:+, $extra}}
YAML
"$rlhf" run "$work/pipeline.yaml" --workdir "$work/rlhf" --json > "$work/run.json"
python3 - "$work/run.json" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
run = json.loads(lines[-1])
stage = next(s for s in run["stages"] if s["name"] == "rag")
m = stage["metrics"]
g = lambda k: m.get(k, float("nan"))
print(f"artifact {stage['path']}  seconds {stage['seconds']:.0f}")
print(f"recall@1 {g('eval/recall_at_1'):.3f}  recall@3 {g('eval/recall_at_3'):.3f}  recall@5 {g('eval/recall_at_5'):.3f}")
print("model  closed EM  closed F1  open EM  open F1")
print(f"base   {g('eval/base_closed_book_exact_match'):9.3f}  {g('eval/base_closed_book_f1'):9.3f}  {g('eval/base_open_book_exact_match'):7.3f}  {g('eval/base_open_book_f1'):7.3f}")
print(f"tuned  {g('eval/closed_book_exact_match'):9.3f}  {g('eval/closed_book_f1'):9.3f}  {g('eval/open_book_exact_match'):7.3f}  {g('eval/open_book_f1'):7.3f}")
PY
