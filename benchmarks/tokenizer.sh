#!/usr/bin/env bash
# Tokenizer benchmark, side by side with Hugging Face tokenizers (not a test).
#   benchmarks/tokenizer.sh [CORPUS] [VOCAB_SIZE]
# Defaults: pipelines/data/gutenberg-classics/corpus.txt, 4096. One thread on both sides
# (RAYON_NUM_THREADS=1 for tokenizers; our trainer and encoder are single-threaded).
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=${1:-pipelines/data/gutenberg-classics/corpus.txt}
VOCAB=${2:-4096}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
swift build -c release --product rlhf >/dev/null
echo "== rlhf (Swift) =="
/usr/bin/time -f "rlhf train wall %e s, max RSS %M KB" .build/release/rlhf tokenizer train --corpus "$CORPUS" --vocab-size "$VOCAB" --out "$OUT/tok" 2>&1 | grep -v "info rlhf"
for i in 1 2 3; do
  .build/release/rlhf tokenizer encode --tokenizer "$OUT/tok" --file "$CORPUS" --stats > "$OUT/ids.json"
done
echo "== Hugging Face tokenizers =="
RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false python3 benchmarks/tokenizer_hf.py "$CORPUS" "$VOCAB" "$OUT/tok/tokenizer.json" "$OUT/ids.json"
