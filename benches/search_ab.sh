#!/usr/bin/env bash
# Interleaved A/B of a title search (`GET /posts?search=number%20999`, as
# benches/http_load.sh's search rows) between two release binaries, the
# second also with its statements sent unnamed (DATABASE_POOLER=transaction
# over a direct connection: what it does behind PgBouncer), each binary on
# its own scratch database of POSTS posts shaped as http_load.sh's (the
# title index dropped for the bulk insert and built after). Prints, per
# round (orders alternate), req/s, p50, and CPU µs per request of the
# service and of its PostgreSQL backends (from /proc).
#
#   BASE_BIN=old/posts-api NEW_BIN=new/posts-api DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
#     benches/search_ab.sh [POSTS (1000)] [ROUNDS (4)]
#
# Env: DURATION (5 s per run), CONNECTIONS (16; also each pool's size).
# Scratch databases search_ab_base and search_ab_new are dropped at the end.
set -euo pipefail
POSTS=${1:-1000}; ROUNDS=${2:-4}; DUR=${DURATION:-5}; C=${CONNECTIONS:-16}
U=${DATABASE_URL%/*}
export JWT_SECRET=bench-secret-0123456789abcdef-0123456789
declare -A BIN=([base]=$BASE_BIN [new]=$NEW_BIN [newun]=$NEW_BIN)
declare -A PORT=([base]=18711 [new]=18712 [newun]=18713)
declare -A DB=([base]=search_ab_base [new]=search_ab_new [newun]=search_ab_new)
declare -A POOLER=([base]=none [new]=none [newun]=transaction)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
  for k in base new; do psql "$U/postgres" -qc "DROP DATABASE IF EXISTS ${DB[$k]} WITH (FORCE)" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT
for k in base new; do
  psql $U/postgres -qc "DROP DATABASE IF EXISTS ${DB[$k]} WITH (FORCE)" -c "CREATE DATABASE ${DB[$k]}" 2>/dev/null
  DATABASE_URL=$U/${DB[$k]} RUST_LOG=warn ${BIN[$k]} migrate >/dev/null
done
for k in base new newun; do
  env STORE=postgres DATABASE_URL=$U/${DB[$k]} DATABASE_POOLER=${POOLER[$k]} DATABASE_POOL_SIZE=$C SEED_POSTS=$([ $k = newun ] && echo 0 || echo 1) \
    BIND_ADDR=127.0.0.1:${PORT[$k]} RUST_LOG=warn LOGIN_MAX_FAILURES=0 LOGIN_MAX_FAILURES_PER_ADDR=0 ${BIN[$k]} >/dev/null 2>&1 &
  PIDS+=($!); eval "SPID_$k=$!"
  for _ in $(seq 1 300); do curl -sf http://127.0.0.1:${PORT[$k]}/healthz >/dev/null && break; sleep 0.1; done
done
for k in base new; do
  psql $U/${DB[$k]} -q <<SQL >/dev/null
DROP INDEX posts_title_keys_idx;
INSERT INTO posts (owner_id, title, title_lower, content, published)
SELECT u.id, 'Seeded post number ' || i, 'seeded post number ' || i,
       left(repeat('lorem ipsum ', 17), 200), i % 10 <> 0
FROM generate_series(1, $POSTS - 1) AS i, (SELECT id FROM users WHERE email = 'seed@example.com') AS u;
SET maintenance_work_mem = '256MB';
CREATE INDEX posts_title_keys_idx ON posts USING gin (post_title_keys(id, owner_id, published, title_lower)) WITH (fastupdate = off);
VACUUM ANALYZE;
SQL
done
declare -A TOK
for k in base new newun; do
  TOK[$k]=$(curl -sf -X POST http://127.0.0.1:${PORT[$k]}/login -d 'username=seed@example.com&password=seed-password' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -sf -H "Authorization: Bearer ${TOK[$k]}" "http://127.0.0.1:${PORT[$k]}/posts?search=number%20999" | python3 -c "import json,sys; print('$k', [p['id'] for p in json.load(sys.stdin)])"
done
ticks() { awk '{ print $14 + $15 }' /proc/$1/stat; }
dbticks() { # CPU ticks of every backend of database $1
  local s=0; for p in $(psql $U/postgres -Atc "select pid from pg_stat_activity where datname='$1' and backend_type='client backend'"); do
    [ -r /proc/$p/stat ] && s=$((s + $(ticks $p))); done; echo $s; }
HZ=$(getconf CLK_TCK)
echo "# posts=$POSTS duration=${DUR}s connections=$C $(uptime)"
echo "| round | binary | req/s | p50 ms | service µs/req | PostgreSQL µs/req |"
for r in $(seq 1 $ROUNDS); do
  order="base new newun"; [ $((r % 2)) -eq 0 ] && order="newun new base"
  for k in $order; do
    url="http://127.0.0.1:${PORT[$k]}/posts?search=number%20999"
    wrk -t2 -c$C -d1s -H "Authorization: Bearer ${TOK[$k]}" "$url" >/dev/null  # warm every connection's plans
    pid=$(eval echo \$SPID_$k); s0=$(ticks $pid); d0=$(dbticks ${DB[$k]})
    out=$(wrk -t2 -c$C -d${DUR}s --latency -H "Authorization: Bearer ${TOK[$k]}" "$url")
    s1=$(ticks $pid); d1=$(dbticks ${DB[$k]})
    n=$(awk '/requests in/ { print $1 }' <<<"$out"); rps=$(awk '/^Requests\/sec/ { print $2 }' <<<"$out"); p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
    awk -v r=$r -v k=$k -v rps=$rps -v p50=$p50 -v s=$((s1-s0)) -v d=$((d1-d0)) -v n=$n -v hz=$HZ 'BEGIN { printf "| %d | %s | %s | %s | %.0f | %.0f |\n", r, k, rps, p50, s*1e6/hz/n, d*1e6/hz/n }'
  done
done
