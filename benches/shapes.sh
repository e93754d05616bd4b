#!/usr/bin/env bash
# Data-shape bench (issue 12): 1,000,000 posts shaped as real data and
# hostile users would shape them, then each page timed one request at a time
# (median of 15, after one warm-up) beside the plain first page as a reader.
# Target: every page within 5x of it, a page by `before` near the oldest
# within 2x; `skip` of 900,000 is shown, not a target (the contract lets skip
# cost what it passes over).
#
#   benches/shapes.sh                       memory store, loaded over HTTP
#   STORE=postgres DATABASE_URL=postgres://postgres@127.0.0.1:5432/test benches/shapes.sh
#                                           PostgreSQL: SQL bulk insert, timed
#                                           before ANALYZE and after
#
# The shape (both stores): users reader, author, drafter and an admin; post
# number i (1..POSTS, ids in the same order) is a draft of the drafter when
# i % 5 is 1 or 2 (400,000), otherwise published by the author (600,000),
# titled "Seeded post number i", every 50,000th "Rare kumquat number i".
#
# Env: POSTS (default 1000000), STORE (memory|postgres), DATABASE_URL
# (postgres: a server to create a scratch database on; dropped afterwards),
# PORT, BIN (default: the release binary, built first), RUNS (default 15).
set -euo pipefail
cd "$(dirname "$0")/.."

POSTS=${POSTS:-1000000}
STORE=${STORE:-memory}
PORT=${PORT:-18098}
RUNS=${RUNS:-15}
BASE="http://127.0.0.1:$PORT"
if [ -z "${BIN:-}" ]; then
  BIN="${CARGO_TARGET_DIR:-target}/release/posts-api"
  cargo build --release --quiet
fi
PASSWORD=shapes-password

SERVER_PID=""
BENCH_DB="posts_shapes_$$"
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  if [ "$STORE" = postgres ]; then
    psql "$DATABASE_URL" -qc "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

if curl -s -o /dev/null "$BASE/healthz"; then
  echo "port $PORT is taken: set PORT" >&2; exit 1
fi
extra=()
if [ "$STORE" = postgres ]; then
  psql "$DATABASE_URL" -qc "CREATE DATABASE $BENCH_DB" >/dev/null
  BENCH_DB_URL="${DATABASE_URL%/*}/$BENCH_DB"
  extra=(STORE=postgres DATABASE_URL="$BENCH_DB_URL")
fi
env "${extra[@]}" BIND_ADDR="127.0.0.1:$PORT" RUST_LOG=warn JWT_SECRET=shapes-secret-0123456789abcdef-0123456789 \
  ADMIN_EMAIL=admin@example.com ADMIN_PASSWORD="$PASSWORD" \
  LOGIN_MAX_FAILURES=0 LOGIN_MAX_FAILURES_PER_ADDR=0 "$BIN" >/dev/null 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 600); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.1; done
curl -sf "$BASE/healthz" >/dev/null || { echo "server did not start" >&2; exit 1; }

# token NAME: registers NAME@example.com (the admin exists already) and
# prints an access token.
token() {
  curl -sf -o /dev/null -X POST "$BASE/users" -H 'Content-Type: application/json' \
    -d "{\"email\": \"$1@example.com\", \"password\": \"$PASSWORD\"}" || true
  curl -sf -X POST "$BASE/login" -d "username=$1@example.com&password=$PASSWORD" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
READER=$(token reader); AUTHOR=$(token author); DRAFTER=$(token drafter); ADMIN=$(token admin)

echo "# $(date -u +%Y-%m-%dT%H:%MZ) store=$STORE posts=$POSTS median of $RUNS, $(nproc) cores" >&2
start=$(date +%s)
if [ "$STORE" = postgres ]; then
  # One statement in the rows' shape of the service (title_lower as the
  # service folds it: these titles are ASCII). Autovacuum is off for the
  # table so that the first timings see it as freshly loaded, unanalysed.
  psql "$BENCH_DB_URL" -q <<SQL >/dev/null
ALTER TABLE posts SET (autovacuum_enabled = off);
INSERT INTO posts (owner_id, title, title_lower, content, published)
SELECT CASE WHEN i % 5 IN (1, 2) THEN d.id ELSE a.id END, t, lower(t),
       left(repeat('lorem ipsum ', 17), 200), i % 5 NOT IN (1, 2)
FROM generate_series(1, $POSTS) AS i
CROSS JOIN LATERAL (SELECT CASE WHEN i % 5 IN (1, 2) THEN 'Seeded draft number ' || i
                                WHEN i % 50000 = 0 THEN 'Rare kumquat number ' || i
                                ELSE 'Seeded post number ' || i END AS t) AS titles,
     (SELECT id FROM users WHERE email = 'author@example.com') AS a,
     (SELECT id FROM users WHERE email = 'drafter@example.com') AS d;
SQL
else
  WRK_POSTS=$POSTS WRK_AUTHOR_TOKEN=$AUTHOR WRK_DRAFTER_TOKEN=$DRAFTER \
    wrk -t1 -c16 -d3600s -s benches/wrk/shapes.lua "$BASE" >/dev/null
fi
echo "loaded in $(($(date +%s) - start)) s" >&2

# The id of the oldest post, for a page near it by cursor (on PostgreSQL
# by SQL: a skip over the table would set its hint bits before the
# "fresh" figures).
if [ "$STORE" = postgres ]; then
  OLDEST=$(psql "$BENCH_DB_URL" -Atc "SELECT min(id) FROM posts")
else
  OLDEST=$(curl -sf -H "Authorization: Bearer $ADMIN" "$BASE/posts?limit=100&skip=$((POSTS - 100))" \
    | python3 -c 'import json,sys; print(min(p["id"] for p in json.load(sys.stdin)))')
fi

# median_ms TOKEN QUERY: prints "median-ms rows" for GET /posts?QUERY.
median_ms() {
  local url="$BASE/posts?$2" out
  curl -sf -o /dev/null -H "Authorization: Bearer $1" "$url"
  out=$(for _ in $(seq 1 "$RUNS"); do
    curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -H "Authorization: Bearer $1" "$url"
  done)
  if awk '$1 != 200 { bad = 1 } END { exit !bad }' <<<"$out"; then
    echo "GET /posts?$2 failed: $(head -1 <<<"$out")" >&2; exit 1
  fi
  local rows; rows=$(curl -sf -H "Authorization: Bearer $1" "$url" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
  awk '{ print $2 * 1000 }' <<<"$out" | sort -n | awk -v rows="$rows" '{ v[NR] = $1 } END { printf "%.3f %s\n", v[int((NR + 1) / 2)], rows }'
}

SHAPES=(
  "first page, a reader (baseline)|$READER|limit=10"
  "first page, the author of most posts|$AUTHOR|limit=10"
  "first page, the owner of 400k drafts|$DRAFTER|limit=10"
  "first page, an admin|$ADMIN|limit=10"
  "search, a term no title holds|$READER|limit=10&search=zyxwvut"
  "search, a rare term|$READER|limit=10&search=kumquat"
  "search, a common term|$READER|limit=10&search=post"
  "search, a title of common trigrams|$READER|limit=10&search=Seeded%20post%20number%20777778"
  "search, one match, owner of drafts|$DRAFTER|limit=10&search=number%20424242"
  "search, a rare term, an admin|$ADMIN|limit=10&search=kumquat"
  "page near the oldest (before)|$READER|limit=10&before=$((OLDEST + 50))"
  "skip 900,000 (not a target)|$READER|limit=10&skip=900000"
)

# measure: one column of figures, in SHAPES order, into the array named $1.
measure() {
  local -n into=$1
  for shape in "${SHAPES[@]}"; do
    IFS='|' read -r _ tok query <<<"$shape"
    into+=("$(median_ms "$tok" "$query")")
  done
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fx", a / b }'; }

FIRST=(); measure FIRST
if [ "$STORE" = postgres ]; then
  psql "$BENCH_DB_URL" -qc "ANALYZE" >/dev/null
  SECOND=(); measure SECOND
  echo "| shape | rows | fresh ms | ratio | analysed ms | ratio |"
  echo "|---|---|---|---|---|---|"
else
  echo "| shape | rows | ms | ratio |"
  echo "|---|---|---|---|"
fi
base1=${FIRST[0]%% *}
[ "$STORE" = postgres ] && base2=${SECOND[0]%% *}
for i in "${!SHAPES[@]}"; do
  name=${SHAPES[$i]%%|*}
  read -r ms rows <<<"${FIRST[$i]}"
  if [ "$STORE" = postgres ]; then
    read -r ms2 _ <<<"${SECOND[$i]}"
    printf '| %s | %s | %s | %s | %s | %s |\n' "$name" "$rows" "$ms" "$(ratio "$ms" "$base1")" "$ms2" "$(ratio "$ms2" "$base2")"
  else
    printf '| %s | %s | %s | %s |\n' "$name" "$rows" "$ms" "$(ratio "$ms" "$base1")"
  fi
done
