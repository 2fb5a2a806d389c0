#!/usr/bin/env bash
# Benchmark: a fully cached re-run of a six-stage pipeline of `command` stages.
# Bar (issue 5): under 1 s wall for the re-run, under 50 ms orchestrator overhead per stage.
#
# Usage: benchmarks/pipeline-cached-rerun.sh [REPEATS]   (builds `rlhf` in release first)
# Prints: the wall time of each cached re-run of the 6-stage and of a 1-stage pipeline, their medians,
# the per-stage overhead (median(6) - median(1)) / 5, and the per-stage times the runner reports.
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS=${1:-10}
swift build -c release --product rlhf >/dev/null
RLHF=$(swift build -c release --show-bin-path)/rlhf
DIR=$(mktemp -d /tmp/rlhf-bench.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
mkdir -p "$DIR/data"
head -c 1000000 /dev/urandom > "$DIR/data/corpus.bin"   # a 1 MB dependency, hashed on every run

cat > "$DIR/six.yaml" <<'YAML'
name: bench-six
seed: 1
stages:
  s1: {kind: command, params: {run: "cp data/corpus.bin $RLHF_OUTPUT_DIR/", deps: [data/corpus.bin]}}
  s2: {kind: command, needs: [s1], params: {run: "head -c 1000 $RLHF_INPUT_S1/corpus.bin > $RLHF_OUTPUT_DIR/x"}}
  s3: {kind: command, needs: [s1], params: {run: "tail -c 1000 $RLHF_INPUT_S1/corpus.bin > $RLHF_OUTPUT_DIR/x"}}
  s4: {kind: command, needs: [s2, s3], params: {run: "cat $RLHF_INPUT_S2/x $RLHF_INPUT_S3/x > $RLHF_OUTPUT_DIR/x"}}
  s5: {kind: command, needs: [s4], params: {run: "wc -c < $RLHF_INPUT_S4/x > $RLHF_OUTPUT_DIR/n"}}
  s6: {kind: command, needs: [s5], params: {run: "cp $RLHF_INPUT_S5/n $RLHF_OUTPUT_DIR/n; for i in 1 2 3; do echo \"{\\\"step\\\": $i, \\\"loss\\\": 1}\" >> $RLHF_METRICS_FILE; done"}}
YAML
cat > "$DIR/one.yaml" <<'YAML'
name: bench-one
seed: 1
stages:
  s1: {kind: command, params: {run: "cp data/corpus.bin $RLHF_OUTPUT_DIR/", deps: [data/corpus.bin]}}
YAML

now() { date +%s.%N; }
measure() {  # $1 pipeline, $2 workdir -> prints wall seconds of one cached run
  local t0 t1
  t0=$(now)
  "$RLHF" run "$DIR/$1" --workdir "$DIR/$2" --json > "$DIR/last.json" 2>/dev/null
  t1=$(now)
  echo "$t1 - $t0" | bc -l
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

"$RLHF" run "$DIR/six.yaml" --workdir "$DIR/w6" --json > /dev/null 2>&1   # first run: everything executes
"$RLHF" run "$DIR/one.yaml" --workdir "$DIR/w1" --json > /dev/null 2>&1
SIX=(); ONE=()
for _ in $(seq "$REPEATS"); do SIX+=("$(measure six.yaml w6)"); ONE+=("$(measure one.yaml w1)"); done
M6=$(printf '%s\n' "${SIX[@]}" | median)
M1=$(printf '%s\n' "${ONE[@]}" | median)
"$RLHF" run "$DIR/six.yaml" --workdir "$DIR/w6" --json 2>/dev/null | tail -1 > "$DIR/six.json"
echo "six-stage cached re-run, wall seconds: ${SIX[*]}"
echo "one-stage cached re-run, wall seconds: ${ONE[*]}"
printf 'median six-stage: %.3f s   median one-stage: %.3f s   per-stage overhead: %.1f ms\n' \
  "$M6" "$M1" "$(echo "($M6 - $M1) / 5 * 1000" | bc -l)"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print("states:", [s["state"] for s in d["stages"]])
print("runner-reported per-stage seconds:", [s["seconds"] for s in d["stages"]])
' "$DIR/six.json"
