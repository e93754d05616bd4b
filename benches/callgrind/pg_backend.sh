#!/usr/bin/env bash
# PostgreSQL instructions per request, repeatable on a loaded machine: a
# private PostgreSQL cluster (initdb in /tmp, its own port; never the shared
# server) under callgrind, the release binary (not under valgrind) on it with
# a pool of one connection, N keep-alive GETs. Each backend writes its count
# when it exits, so a figure is (count after N2 requests - count after N1)
# / (N2 - N1), each on a fresh start of the service: the connection's start,
# the migration check, the login and the warm-up cancel out.
#
#   benches/callgrind/pg_backend.sh BIN PATH... [env: PG_PORT=8450 PORT=8401 N1=50 N2=250]
#   e.g. benches/callgrind/pg_backend.sh target/release/posts-api 'posts?limit=10' posts/500
#
# 1,000 posts as benches/http_load.sh seeds them. Needs valgrind, initdb
# (PostgreSQL 15's bin directory, or PG_BIN) and python3.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$1; shift
PG_PORT=${PG_PORT:-8450} PORT=${PORT:-8401} N1=${N1:-50} N2=${N2:-250}
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | tail -1)}
dir=$(mktemp -d /tmp/pg-backend-callgrind.XXXXXX)
as_pg=()
[ "$(id -u)" -eq 0 ] && { chown postgres "$dir"; as_pg=(runuser -u postgres --); }
"${as_pg[@]}" "$PG_BIN/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
"${as_pg[@]}" valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$dir/cg.%p" \
  "$PG_BIN/postgres" -D "$dir/data" -p "$PG_PORT" -k "$dir" -c listen_addresses=127.0.0.1 \
  -c fsync=off -c autovacuum=off >"$dir/log" 2>&1 &
pg=$!
sp=""
cleanup() {
  [ -n "$sp" ] && kill "$sp" 2>/dev/null
  "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" stop -m fast >/dev/null 2>&1 || true
  wait "$pg" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 1 300); do pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break; sleep 0.2; done
url="postgres://postgres@127.0.0.1:$PG_PORT"
psql -q "$url/postgres" -c "CREATE DATABASE bench"
export JWT_SECRET=bench-secret-0123456789abcdef-0123456789
start() {
  env STORE=postgres DATABASE_URL="$url/bench" DATABASE_POOL_SIZE=1 SEED_POSTS=1 BIND_ADDR=127.0.0.1:$PORT \
    RUST_LOG=warn LOGIN_MAX_FAILURES=0 LOGIN_MAX_FAILURES_PER_ADDR=0 BCRYPT_COST=4 "$bin" >/dev/null 2>&1 &
  sp=$!
  for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && return; sleep 0.2; done
  echo "service did not start" >&2; exit 1
}
stop() { kill "$sp"; wait "$sp" 2>/dev/null || true; sp=""; sleep 1.5; }
start
psql -q "$url/bench" <<SQL
INSERT INTO posts (owner_id, title, title_lower, content, published)
SELECT u.id, 'Seeded post number ' || i, 'seeded post number ' || i,
       left(repeat('lorem ipsum ', 17), 200), i % 10 <> 0
FROM generate_series(1, 999) AS i, (SELECT id FROM users WHERE email = 'seed@example.com') AS u;
VACUUM ANALYZE;
SQL
tok=$(curl -sf -X POST "http://127.0.0.1:$PORT/login" -d 'username=seed@example.com&password=seed-password' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
stop
# count PATH N: the instructions of the pool's backend over N requests and
# what its connection did besides.
count() {
  start
  local backend
  backend=$(psql -Atq "$url/postgres" -c "SELECT pid FROM pg_stat_activity WHERE datname = 'bench' AND application_name <> 'psql'" | head -1)
  python3 "$here/drive.py" "$PORT" "/$1" "$2" "$tok"
  stop
  awk '/^(summary|totals):/ { print $2; exit }' "$dir/cg.$backend"
}
echo "# PostgreSQL backend instructions per request, $(basename "$bin"), (N$N2 - N$N1) / $((N2 - N1))"
for path in "$@"; do
  a=$(count "$path" "$N1"); b=$(count "$path" "$N2")
  printf '/%-24s %8.1f k\n' "$path" "$(awk -v a="$a" -v b="$b" -v n=$((N2 - N1)) 'BEGIN { print (b - a) / n / 1000 }')"
done
