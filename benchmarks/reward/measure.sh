#!/bin/sh
# Reward model on hh-rlhf-harmless-base, ours vs TRL RewardTrainer vs the length baseline, on seeded
# K-fold splits (not a test). For each fold: import the train part into PostgreSQL as its own dataset,
# train our `reward-model` stage through a small pipeline (base model copied by a `command` stage),
# evaluate with `rlhf reward eval --json` on the test part, run benchmarks/trl_reward.py on the same
# files, base, steps, batch size, learning rate and max_length; print one line per fold and the means.
#
#   deploy/local-postgres.sh start /tmp/pg-rm 55461     # prints the URL
#   RLHF_DATABASE_URL=postgresql://rlhf@127.0.0.1:55461/rlhf benchmarks/reward/measure.sh
#
# Environment (defaults in brackets):
#   RLHF       rlhf binary [.build/release/rlhf]        BASE     base model dir [/work/artifacts/gutenberg-pretrain]
#   OUT        work dir [/tmp/rm-measure]               FOLDS    folds to run ["0 1 2"] of K [3], SEED [1234]
#   TRAIN/TEST file names inside fold dirs [train / test]; for sweeps use train_fit / val (never tune on test)
#   EPOCHS [1] (steps = EPOCHS * ceil(train pairs / BS)), BS [8], LR [1e-4], MAXLEN [192]
#   PEERS      "ours trl" [both]                         RLHF_NUM_THREADS [1]
#   SFT_EPOCHS [0]: >0 adds a domain-adaptation stage before the reward model (DeepSpeed-Chat step 1):
#              benchmarks/reward/sft_chosen.py on the chosen replies of the TRAIN file (SFT_LR [3e-4]); the
#              TRL peer starts from that stage's artifact, so both reward models start from the same weights.
set -eu
cd "$(dirname "$0")/../.."
REPO=$(pwd)
RLHF=${RLHF:-$REPO/.build/release/rlhf}
BASE=${BASE:-/work/artifacts/gutenberg-pretrain}
OUT=${OUT:-/tmp/rm-measure}
K=${K:-3}; SEED=${SEED:-1234}; FOLDS=${FOLDS:-"0 1 2"}
TRAIN=${TRAIN:-train}; TEST=${TEST:-test}
SFT_EPOCHS=${SFT_EPOCHS:-0}; SFT_LR=${SFT_LR:-3e-4}
EPOCHS=${EPOCHS:-1}; BS=${BS:-8}; LR=${LR:-1e-4}; MAXLEN=${MAXLEN:-192}
PEERS=${PEERS:-"ours trl"}
export RLHF_NUM_THREADS=${RLHF_NUM_THREADS:-1}
: "${RLHF_DATABASE_URL:?set RLHF_DATABASE_URL (deploy/local-postgres.sh start /tmp/pg-rm 55461)}"
DATA=$REPO/annotations/hh-rlhf-harmless-base/test_shared.jsonl
TAG=$(basename "$BASE")-sft$SFT_EPOCHS-$SFT_LR-e$EPOCHS-bs$BS-lr$LR-len$MAXLEN-$TRAIN-$TEST
mkdir -p "$OUT"
python3 benchmarks/reward/split_hh.py "$DATA" "$OUT/split" --folds "$K" --seed "$SEED" --val-fraction 0.2 >/dev/null
RESULTS=$OUT/results-$TAG.jsonl
: > "$RESULTS"
uptime
for f in $FOLDS; do
  D=$OUT/split/fold$f
  N=$(grep -c . "$D/$TRAIN.jsonl")
  STEPS=$(( EPOCHS * ((N + BS - 1) / BS) ))
  RMBASE=$BASE
  if echo "$PEERS" | grep -q ours || [ "$SFT_EPOCHS" -gt 0 ]; then
    DS=hh-rm-s$SEED-k$K-f$f-$TRAIN
    "$RLHF" prefs import "$D/$TRAIN.jsonl" --format hh-rlhf --dataset "$DS" --json > "$OUT/import-$DS.json"
    P=$OUT/pipelines/$TAG-f$f.yaml
    mkdir -p "$(dirname "$P")"
    cat > "$P" <<YAML
name: reward-hh-fold$f
seed: $SEED
stages:
  base:
    kind: command
    params:
      run: cp -R "$BASE"/. "\$RLHF_OUTPUT_DIR"/
      deps: ["$BASE"]
YAML
    NEED=base
    if [ "$SFT_EPOCHS" -gt 0 ]; then
      NEED=sft
      cat >> "$P" <<YAML
  sft:
    kind: command
    needs: [base]
    params:
      run: python3 "$REPO/benchmarks/reward/sft_chosen.py" --model "\$RLHF_INPUT_BASE" --train "$D/$TRAIN.jsonl" --out "\$RLHF_OUTPUT_DIR" --epochs $SFT_EPOCHS --lr $SFT_LR --max-length $MAXLEN --batch-size $BS --threads $RLHF_NUM_THREADS --seed $SEED
      deps: ["$REPO/benchmarks/reward/sft_chosen.py", "$D/$TRAIN.jsonl"]
YAML
    fi
    cat >> "$P" <<YAML
  reward-model:
    kind: reward-model
    needs: [$NEED]
    params:
      dataset: $DS
      max_length: $MAXLEN
      long_prompts: skip
      steps: $STEPS
      batch_size: $BS
      learning_rate: $LR
      eval_fraction: 0.0
      normalization_samples: 8
      normalization_response_length: 16
YAML
    stage_path() { python3 -c "import json,sys; r=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]); print([s for s in r['stages'] if s['name']==sys.argv[2]][0]['path'])" "$OUT/run-$TAG-f$f.json" "$1"; }
    if [ "$SFT_EPOCHS" -gt 0 ]; then
      "$RLHF" run "$P" --workdir "$OUT/work" --threads "$RLHF_NUM_THREADS" --until sft --json > "$OUT/run-$TAG-f$f.json"
      RMBASE=$(stage_path sft)
    fi
  fi
  if echo "$PEERS" | grep -q ours; then
    t0=$(date +%s)
    "$RLHF" run "$P" --workdir "$OUT/work" --threads "$RLHF_NUM_THREADS" --json > "$OUT/run-$TAG-f$f.json"
    t1=$(date +%s)
    ART=$(stage_path reward-model)
    "$RLHF" reward eval --model "$ART" --file "$D/$TEST.jsonl" --format hh-rlhf --skip-long-prompts --json > "$OUT/eval-$TAG-f$f.json"
    python3 -c "import json,sys; e=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]); e.update(peer='ours', fold=int(sys.argv[2]), steps=int(sys.argv[3]), train_seconds=int(sys.argv[4])); print(json.dumps(e))" \
      "$OUT/eval-$TAG-f$f.json" "$f" "$STEPS" "$((t1 - t0))" | tee -a "$RESULTS"
  fi
  if echo "$PEERS" | grep -q trl; then
    python3 benchmarks/trl_reward.py --model "$RMBASE" --train "$D/$TRAIN.jsonl" --test "$D/$TEST.jsonl" --steps "$STEPS" \
      --batch-size "$BS" --lr "$LR" --max-length "$MAXLEN" --eval-max-length "$(python3 -c "import json;print(json.load(open(\"$BASE/config.json\"))[\"max_position_embeddings\"])")" --threads "$RLHF_NUM_THREADS" --seed "$SEED" 2>"$OUT/trl-$TAG-f$f.log" \
      | tail -1 | python3 -c "import json,sys; e=json.loads(sys.stdin.read()); e.update(peer='trl', fold=int(sys.argv[1]), steps=int(sys.argv[2])); print(json.dumps(e))" "$f" "$STEPS" | tee -a "$RESULTS"
  fi
done
python3 benchmarks/reward/summarize.py "$RESULTS"
uptime
