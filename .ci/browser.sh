#!/usr/bin/env bash
# Swagger UI in a real browser: Debian's chromium (installed if missing)
# driven by playwright-core (pinned in .ci/browser/package-lock.json).
# Screenshots are kept in ci-artifacts/browser/.
#
# Usage: .ci/browser.sh [path/to/posts-api]   (default: a debug build)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  echo "installing chromium"
  apt-get install -y -qq chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
fi
(cd .ci/browser && npm ci --no-audit --no-fund --silent)

BIN="${1:-${CARGO_TARGET_DIR:-target}/debug/posts-api}"
[ -x "$BIN" ] || cargo build --quiet
# shellcheck source=serve.sh
source .ci/serve.sh
start_service "$BIN"
SCREENSHOTS="$PWD/ci-artifacts/browser" node .ci/browser/check.mjs "$ADDR"
service_still_up
