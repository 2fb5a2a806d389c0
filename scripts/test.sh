#!/usr/bin/env bash
# The test command: installs system packages, starts a throwaway PostgreSQL unless
# RLHF_DATABASE_URL is set, and runs the whole suite from a release build (numeric code
# is many times slower in debug).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-system.sh
if [ -z "${RLHF_DATABASE_URL:-}" ]; then
  PGDIR=$(mktemp -d /tmp/rlhf-test-pg.XXXXXX)
  trap 'deploy/local-postgres.sh stop "$PGDIR"' EXIT
  RLHF_DATABASE_URL=$(deploy/local-postgres.sh start "$PGDIR" "${RLHF_TEST_PG_PORT:-55432}")
  export RLHF_DATABASE_URL
fi
# One release build of everything (the rlhf executable too: CLI tests run it), then the tests
# without rebuilding (a plain `swift test` after `swift build` would compile everything twice).
swift build -c release -Xswiftc -enable-testing --build-tests
swift test -c release -Xswiftc -enable-testing --skip-build "$@"
