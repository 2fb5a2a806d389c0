#!/usr/bin/env bash
# Issue 8 on real data: PPO against the HH-RLHF reward model, fixed vs adaptive KL control, with the
# curves (eval/score_reference, eval/score_policy, eval/kl per eval point; objective/kl,
# objective/kl_coef, objective/scores per iteration). Results: benchmarks/results/ppo-hh.md.
#
# Usage: benchmarks/ppo-kl.sh [WORKDIR]        (default /tmp/rlhf-ppo-kl; reuse it and only the changed
#                                               stages re-run)
# Environment: RLHF_DATABASE_URL (default: a local cluster started in WORKDIR/postgres on port
# RLHF_PG_PORT, default 55462, left running), RLHF_THREADS (compute threads, default 1).
# The upstream stages are the quickstart's, so `rlhf run pipelines/quickstart.yaml --workdir WORKDIR`
# afterwards re-runs only its ppo and export stages.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-/tmp/rlhf-ppo-kl}
mkdir -p "$WORK"
swift build -c release --product rlhf >&2
B=$(swift build -c release --show-bin-path)/rlhf
if [ -z "${RLHF_DATABASE_URL:-}" ]; then
  RLHF_DATABASE_URL=$(deploy/local-postgres.sh start "$WORK/postgres" "${RLHF_PG_PORT:-55462}")
  export RLHF_DATABASE_URL
fi
"$B" db migrate >&2
"$B" prefs import annotations/hh-rlhf-harmless-base/test_shared.jsonl --format hh-rlhf \
  --dataset hh-rlhf-harmless-base >&2 2>/dev/null
uptime
"$B" run benchmarks/ppo-kl.yaml --workdir "$WORK" --threads "${RLHF_THREADS:-1}" --json > "$WORK/ppo-kl.json"
uptime
"$B" status --workdir "$WORK"
for s in $(grep -oE '^  ppo[a-z0-9-]*' benchmarks/ppo-kl.yaml); do
  echo "== $s: held-out prompts (step = iteration; 0 = before training)"
  "$B" metrics --workdir "$WORK" --stage "$s" --name eval/score_reference,eval/score_policy,eval/kl
  echo "== $s: training rollouts"
  "$B" metrics --workdir "$WORK" --stage "$s" --name objective/kl,objective/kl_coef,objective/scores,objective/rlhf_reward,val/num_eos_tokens
done
