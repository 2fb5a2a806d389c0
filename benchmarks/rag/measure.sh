#!/bin/sh
# Measures rag-inject on a data set from a randomly initialised tiny Llama (no pretrain stage needed):
# trains a BPE tokenizer on the Gutenberg corpus, writes the model with init_model.py (transformers),
# then runs a two-stage pipeline (`command` copying the model, `rag-inject`).
#
# usage: benchmarks/rag/measure.sh WORKDIR DATASET STEPS [extra rag-inject params as YAML flow entries]
#   e.g. benchmarks/rag/measure.sh /tmp/rag-m factbook1992-rag 600 "learning_rate: 0.002"
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$1; data=$2; steps=$3; extra=${4:-}
rlhf=${RLHF:-$repo/.build/release/rlhf}
mkdir -p "$work"
if [ ! -f "$work/tokenizer/tokenizer.json" ]; then
  "$rlhf" tokenizer train --corpus "$repo/pipelines/data/gutenberg-classics/corpus.txt" --vocab-size 2048 --out "$work/tokenizer"
fi
if [ ! -f "$work/base/model.safetensors" ]; then
  python3 "$repo/benchmarks/rag/init_model.py" "$work/tokenizer" "$work/base" --hidden ${HIDDEN:-128} --layers ${LAYERS:-4} --heads 4 --ctx 256
fi
cat > "$work/pipeline.yaml" <<YAML
name: rag-measure
seed: 1
stages:
  pretrain:
    kind: command
    params:
      run: cp -R "$work/base/." "\$RLHF_OUTPUT_DIR/"
      deps: ["$work/base"]
  rag:
    kind: rag-inject
    needs: [pretrain]
    params: {knowledge: "$repo/pipelines/data/$data/kb.jsonl", train_questions: "$repo/pipelines/data/$data/qa_shared.jsonl",
             eval_fraction: 0.2, steps: $steps ${extra:+, $extra}}
YAML
"$rlhf" run "$work/pipeline.yaml" --workdir "$work/rlhf" --json
