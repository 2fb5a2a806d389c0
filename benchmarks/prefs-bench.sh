#!/usr/bin/env bash
# Benchmark (not a test) of the preference store, release build:
#   1. import rate of annotations/hh-rlhf-harmless-base/test_shared.jsonl (rows/s), 5 fresh datasets, and the
#      idempotent re-import; side by side with a raw psycopg COPY of the same rows (benchmarks/pg_copy_peer.py)
#      as the transfer ceiling, when psycopg is installed;
#   2. labels/s with 16 concurrent writers (`rlhf prefs bench`: lease + label, two transactions per label).
# Uses RLHF_DATABASE_URL, or starts a private server on port ${RLHF_BENCH_PG_PORT:-55490}. Works in a fresh schema.
#   benchmarks/prefs-bench.sh [WRITERS] [COMPARISONS]
set -euo pipefail
cd "$(dirname "$0")/.."
WRITERS=${1:-16}
COMPARISONS=${2:-4000}
FILE=annotations/hh-rlhf-harmless-base/test_shared.jsonl
if [ -z "${RLHF_DATABASE_URL:-}" ]; then
  PGDIR=$(mktemp -d /tmp/rlhf-bench-pg.XXXXXX)
  trap 'deploy/local-postgres.sh stop "$PGDIR"' EXIT
  RLHF_DATABASE_URL=$(deploy/local-postgres.sh start "$PGDIR" "${RLHF_BENCH_PG_PORT:-55490}")
fi
swift build -c release --product rlhf >/dev/null
BIN=$(swift build -c release --show-bin-path)/rlhf
SCHEMA=bench_$(date +%s)_$$
psql "$RLHF_DATABASE_URL" -qc "CREATE SCHEMA $SCHEMA"
case "$RLHF_DATABASE_URL" in *\?*) SEP='&' ;; *) SEP='?' ;; esac
export RLHF_DATABASE_URL="$RLHF_DATABASE_URL${SEP}options=-csearch_path%3D$SCHEMA"
"$BIN" db migrate >/dev/null
ROWS=$(grep -c '' "$FILE")
now() { date +%s.%N; }
echo "import: $FILE ($ROWS lines), release build"
for i in 1 2 3 4 5; do
  t0=$(now); "$BIN" prefs import "$FILE" --format hh-rlhf --dataset "hh-$i" >/dev/null 2>&1; t1=$(now)
  echo "  fresh import $i: $(echo "$t0 $t1 $ROWS" | awk '{printf "%.3f s, %.0f rows/s", $2-$1, $3/($2-$1)}')"
done
t0=$(now); "$BIN" prefs import "$FILE" --format hh-rlhf --dataset hh-1 >/dev/null 2>&1; t1=$(now)
echo "  re-import (adds nothing): $(echo "$t0 $t1 $ROWS" | awk '{printf "%.3f s, %.0f rows/s", $2-$1, $3/($2-$1)}')"
if python3 -c "import psycopg" 2>/dev/null; then
  python3 benchmarks/pg_copy_peer.py "$RLHF_DATABASE_URL" "$FILE"
else
  echo "  (peer skipped: pip install 'psycopg[binary]')"
fi
echo "labels: $WRITERS writers, $COMPARISONS comparisons, overlap 2"
"$BIN" prefs bench --writers "$WRITERS" --comparisons "$COMPARISONS" --overlap 2
psql "${RLHF_DATABASE_URL%%[?&]options=*}" -qc "DROP SCHEMA $SCHEMA CASCADE"
