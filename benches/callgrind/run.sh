#!/usr/bin/env bash
# Instructions and mallocs per request, repeatable on a loaded machine:
# the release binary (or the bare route) under callgrind, N keep-alive GETs
# on one connection after a warm-up, counted between a zero and a dump.
#
#   benches/callgrind/run.sh ours|bare BIN healthz|post [N] [PORT]
#
# `ours`: the service (BIN = target/release/posts-api); `bare`: the bare
# route (BIN = target/release/examples/bare_route). `post` is the
# authenticated GET /posts/500 (memory store, 1,000 posts). Prints
# instructions per request and calls per request of the allocator and
# memcpy (see count.py). Needs valgrind and python3.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kind=$1 bin=$2 work=$3 n=${4:-2000} port=${5:-8190}
out=$(mktemp -d /tmp/callgrind-requests.XXXXXX)
export JWT_SECRET=bench-secret-0123456789abcdef-0123456789 BCRYPT_COST=4 SEED_POSTS=1000 \
  BIND_ADDR=127.0.0.1:$port RUST_LOG=warn STORE=memory LOGIN_MAX_FAILURES=0 LOGIN_MAX_FAILURES_PER_ADDR=0
args=()
[ "$kind" = bare ] && args=(serve)
valgrind --tool=callgrind --callgrind-out-file="$out/cg.%p" "$bin" "${args[@]}" >"$out/stdout" 2>"$out/stderr" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 1200); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
if [ "$kind" = bare ]; then
  for _ in $(seq 1 300); do grep -q '^token ' "$out/stdout" && break; sleep 0.2; done
  tok=$(awk '/^token / { print $2 }' "$out/stdout")
else
  tok=$(curl -sf -X POST "http://127.0.0.1:$port/login" -d 'username=seed@example.com&password=seed-password' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
fi
case $work in healthz) path=/healthz; t="" ;; post) path=/posts/500; t=$tok ;; *) echo "healthz or post" >&2; exit 1 ;; esac
python3 "$here/drive.py" "$port" "$path" 300 "$t"
callgrind_control -z "$pid" >/dev/null 2>&1
python3 "$here/drive.py" "$port" "$path" "$n" "$t"
callgrind_control -d "$pid" >/dev/null 2>&1
sleep 1
dump=$(ls -t "$out"/cg.*.* | head -1)
echo "# $kind $work n=$n dump=$dump"
python3 "$here/count.py" "$dump" "$n"
