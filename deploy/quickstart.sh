#!/usr/bin/env bash
# The main job, end to end on the shipped real data:
#   Gutenberg text -> tokenizer -> pretrain -> RAG injection (1992 CIA World Factbook) ->
#   reward model (HH-RLHF comparisons in PostgreSQL) -> PPO -> export (HF + GGUF Q8_0).
#
# On a fresh Debian machine it installs the packages it needs, starts a local PostgreSQL unless
# RLHF_DATABASE_URL is set, builds in release mode, migrates, imports the comparisons (idempotent) and
# runs pipelines/quickstart.yaml. The `rlhf run --json` summary lands in $RLHF_WORKDIR/quickstart.json.
#
# Environment: RLHF_DATABASE_URL (libpq URL; default: a local cluster it starts and leaves running so
# that `rlhf label` can use it), RLHF_WORKDIR (default .rlhf), RLHF_PIPELINE (default
# pipelines/quickstart.yaml), RLHF_PG_PORT (default 55433).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

export RLHF_WORKDIR=${RLHF_WORKDIR:-.rlhf}
pipeline=${RLHF_PIPELINE:-pipelines/quickstart.yaml}
mkdir -p "$RLHF_WORKDIR"

echo "==> system packages" >&2
scripts/setup-system.sh

if [ -z "${RLHF_DATABASE_URL:-}" ]; then
  # initdb cannot run as root; the cluster then belongs to the postgres user, which must reach the
  # data directory, so as root it lives under /var/tmp rather than inside this checkout.
  if [ "$(id -u)" = 0 ]; then pgdir=${RLHF_PG_DIR:-/var/tmp/rlhf-postgres}; else pgdir=${RLHF_PG_DIR:-$RLHF_WORKDIR/postgres}; fi
  echo "==> local PostgreSQL in $pgdir" >&2
  RLHF_DATABASE_URL=$(deploy/local-postgres.sh start "$pgdir" "${RLHF_PG_PORT:-55433}")
  export RLHF_DATABASE_URL
  echo "    $RLHF_DATABASE_URL (left running; stop it with: deploy/local-postgres.sh stop $pgdir)" >&2
fi

echo "==> release build" >&2
swift build -c release --product rlhf >&2
bin="$(swift build -c release --show-bin-path)/rlhf"

echo "==> database migrations" >&2
"$bin" db migrate >&2

echo "==> import human comparisons (idempotent)" >&2
"$bin" prefs import annotations/hh-rlhf-harmless-base/test_shared.jsonl --format hh-rlhf \
  --dataset hh-rlhf-harmless-base >&2

echo "==> rlhf run $pipeline" >&2
"$bin" run "$pipeline" --workdir "$RLHF_WORKDIR" --json > "$RLHF_WORKDIR/quickstart.json.tmp"
mv "$RLHF_WORKDIR/quickstart.json.tmp" "$RLHF_WORKDIR/quickstart.json"
echo "==> summary written to $RLHF_WORKDIR/quickstart.json" >&2
