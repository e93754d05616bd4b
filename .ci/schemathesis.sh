#!/usr/bin/env bash
# Fuzzes the running service with schemathesis (pinned) from its own
# /openapi.json: every check, the stateful phase, a bounded number of
# examples, on the memory store. Zero failures or this script fails.
#
# Usage: .ci/schemathesis.sh [path/to/posts-api]   (default: a debug build)
# ST_MAX_EXAMPLES scales the run (default 50 per operation).
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
VENV="${SCHEMATHESIS_VENV:-$HOME/.cache/posts-api/venv-schemathesis}"
if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
fi

BIN="${1:-${CARGO_TARGET_DIR:-target}/debug/posts-api}"
[ -x "$BIN" ] || cargo build --quiet
# shellcheck source=serve.sh
source .ci/serve.sh
export ST_ADMIN_EMAIL=admin@schemathesis.test ST_ADMIN_PASSWORD=schemathesis-admin
start_service "$BIN" JWT_SECRET=schemathesis-secret-0123456789abcdef \
  ADMIN_EMAIL="$ST_ADMIN_EMAIL" ADMIN_PASSWORD="$ST_ADMIN_PASSWORD" \
  LOGIN_MAX_FAILURES=0 LOGIN_MAX_FAILURES_PER_ADDR=0
echo "schemathesis $SCHEMATHESIS_VERSION against $ADDR"

export POSTS_API_URL="$ADDR"
export SCHEMATHESIS_HOOKS=hooks
PYTHONPATH=.ci/schemathesis "$VENV/bin/schemathesis" run "$ADDR/openapi.json" \
  --url "$ADDR" \
  --checks all \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "${ST_MAX_EXAMPLES:-50}" \
  --seed "${ST_SEED:-1}" \
  --suppress-health-check all \
  --no-color
service_still_up
