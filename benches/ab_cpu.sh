#!/usr/bin/env bash
# Server CPU per request (user + system from /proc, µs) and req/s of two
# builds and the bare route, started side by side and driven in turn
# (ROUNDS rounds of wrk -t2 -c16 -dD s per workload): on a loaded machine,
# compare medians across rounds.
#
#   BASE_BIN=... NEW_BIN=... BARE_BIN=... [PORT_BASE=8301] benches/ab_cpu.sh
#
# The three servers listen on PORT_BASE, PORT_BASE+1 and PORT_BASE+2.
#
# Prints lines `WORKLOAD BUILD CPU_US REQ_PER_S`.
set -u
: "${BASE_BIN:?} ${NEW_BIN:?} ${BARE_BIN:?}"
export JWT_SECRET=bench-secret-0123456789abcdef-0123456789
ROUNDS=${ROUNDS:-3} D=${D:-3} PORT_BASE=${PORT_BASE:-8301}
Q1=$PORT_BASE Q2=$((PORT_BASE + 1)) Q3=$((PORT_BASE + 2))
OUT=$(mktemp -d)
start() { env SEED_POSTS=1000 BIND_ADDR=127.0.0.1:$2 RUST_LOG=warn STORE=memory LOGIN_MAX_FAILURES=0 LOGIN_MAX_FAILURES_PER_ADDR=0 $1 > "$OUT/$2.out" 2>/dev/null & echo $!; }
P1=$(start "$BASE_BIN" $Q1); P2=$(start "$NEW_BIN" $Q2); P3=$(start "$BARE_BIN serve" $Q3)
trap 'kill $P1 $P2 $P3 2>/dev/null; rm -rf "$OUT"' EXIT
sleep 3; for p in $Q1 $Q2 $Q3; do for _ in $(seq 100); do curl -sf http://127.0.0.1:$p/healthz >/dev/null && break; sleep 0.2; done; done
for _ in $(seq 100); do grep -q '^token ' "$OUT/$Q3.out" && break; sleep 0.2; done
tok() { curl -sf -X POST "http://127.0.0.1:$1/login" -d 'username=seed@example.com&password=seed-password' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'; }
T1=$(tok $Q1); T2=$(tok $Q2); T3=$(awk '/^token / {print $2}' "$OUT/$Q3.out")
ticks() { awk '{ print $14 + $15 }' /proc/$1/stat; }
one() { # pid port path token
  local b a out n; b=$(ticks $1)
  out=$(wrk -t2 -c16 -d${D}s ${4:+-H "Authorization: Bearer $4"} "http://127.0.0.1:$2$3" 2>&1); a=$(ticks $1)
  n=$(awk '/requests in/ {print $1}' <<<"$out"); rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  awk -v a=$a -v b=$b -v n=$n -v r=$rps -v hz=$(getconf CLK_TCK) 'BEGIN { printf "%.1f %d\n", (a-b)*1e6/hz/n, r }'
}
for r in $(seq $ROUNDS); do
  for w in healthz post; do
    if [ $w = healthz ]; then path=/healthz; else path=/posts/500; fi
    [ $w = healthz ] && t1= t2= t3= || { t1=$T1; t2=$T2; t3=$T3; }
    echo "$w base $(one $P1 $Q1 $path "$t1")"
    echo "$w new $(one $P2 $Q2 $path "$t2")"
    echo "$w bare $(one $P3 $Q3 $path "$t3")"
  done
done
