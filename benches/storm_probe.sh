#!/usr/bin/env bash
# What a CPU-bound neighbour at low priority does to a PostgreSQL-bound
# read's p99 (issue 12, target 3): the release binary on a scratch database
# of 1,000 posts, `GET /posts/500` with wrk (32 connections, 5 s, after a
# warm-up), once per MODE, in order:
#
#   calm                 nothing else runs
#   login                the login storm of benches/http_load.sh (4 logins
#                        without pause; the hashes in the service's worker)
#   spin:POLICY:NICE:NS  two busy loops in a session of their own whose
#                        autogroup is at nice 19 (as the worker's), each set
#                        by sched_setattr to POLICY (0 normal, 3 batch,
#                        5 idle), NICE and a custom slice of NS (0: none)
#   spin-idle-cgroup     two busy loops in a cgroup (v1 or v2 cpu
#                        controller) with cpu.idle=1; needs root
#
#   benches/storm_probe.sh calm login calm spin:5:0:0 calm spin-idle-cgroup calm
#
# Env: BIN (default: the release binary), DATABASE_URL (a server to create
# the scratch database on; dropped afterwards), PORT (8601), SPINNERS (2).
# Prints one line per mode: req/s, p90 and p99.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/posts-api}
DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
PORT=${PORT:-8601}
SPINNERS=${SPINNERS:-2}
DB=storm_probe_$$
DB_URL="${DATABASE_URL%/*}/$DB"
BASE="http://127.0.0.1:$PORT"
export JWT_SECRET=bench-secret-0123456789abcdef-0123456789
CGROUP=""

psql "$DATABASE_URL" -qc "CREATE DATABASE $DB" >/dev/null
env STORE=postgres DATABASE_URL="$DB_URL" SEED_POSTS=1 BIND_ADDR=127.0.0.1:$PORT RUST_LOG=warn \
  LOGIN_MAX_FAILURES=0 LOGIN_MAX_FAILURES_PER_ADDR=0 DATABASE_POOL_SIZE=32 "$BIN" >/dev/null 2>&1 &
SERVER=$!
cleanup() {
  kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null || true
  psql "$DATABASE_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  [ -n "$CGROUP" ] && rmdir "$CGROUP" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 1 100); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.2; done
psql "$DB_URL" -q <<SQL >/dev/null
INSERT INTO posts (owner_id, title, title_lower, content, published)
SELECT u.id, 'Seeded post number ' || i, 'seeded post number ' || i,
       left(repeat('lorem ipsum ', 17), 200), i % 10 <> 0
FROM generate_series(1, 999) AS i, (SELECT id FROM users WHERE email = 'seed@example.com') AS u;
ANALYZE;
SQL
TOKEN=$(curl -sf -X POST "$BASE/login" -d 'username=seed@example.com&password=seed-password' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
read_load() {
  wrk -t2 -c32 -d"$1"s --latency -H "Authorization: Bearer $TOKEN" "$BASE/posts/500" \
    | awk '/^Requests\/sec/ { r = $2 } $1 == "90%" { p90 = $2 } $1 == "99%" { p99 = $2 }
           END { printf "%s req/s, p90 %s, p99 %s", r, p90, p99 }'
}
read_load 2 >/dev/null

# set_attr POLICY NICE NS PID...: sched_setattr on each PID.
set_attr() {
  python3 - "$@" <<'PY'
import ctypes, os, sys
policy, nice, runtime = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
class Attr(ctypes.Structure):
    _fields_ = [("size", ctypes.c_uint32), ("policy", ctypes.c_uint32), ("flags", ctypes.c_uint64),
                ("nice", ctypes.c_int32), ("priority", ctypes.c_uint32), ("runtime", ctypes.c_uint64),
                ("deadline", ctypes.c_uint64), ("period", ctypes.c_uint64)]
libc = ctypes.CDLL(None, use_errno=True)
for pid in sys.argv[4:]:
    attr = Attr(ctypes.sizeof(Attr), policy, 0, nice, 0, runtime, 0, 0)
    if libc.syscall(314, int(pid), ctypes.byref(attr), 0) != 0:  # SYS_sched_setattr, x86_64
        print(f"sched_setattr {pid}: {os.strerror(ctypes.get_errno())}", file=sys.stderr)
PY
}

# spinners SETUP: SPINNERS busy loops in a new session (its own process
# group), after SETUP runs in that session's shell; prints the group id.
spinners() {
  # Not on our stdout: the caller reads it to its end.
  setsid bash -c "$1"'; for _ in $(seq 1 '"$SPINNERS"'); do (while :; do :; done) & done; wait' \
    >/dev/null 2>&1 &
  local leader=$!
  sleep 0.5
  echo "$leader"
}

for mode in "$@"; do
  case $mode in
    calm) echo "calm: $(read_load 5)" ;;
    login)
      WRK_BODY='username=seed@example.com&password=seed-password' WRK_CONTENT_TYPE=application/x-www-form-urlencoded \
        wrk -t1 -c4 -d7s -s benches/wrk/post.lua "$BASE/login" >/tmp/storm_probe_login.$$ 2>&1 &
      storm=$!
      sleep 1
      line=$(read_load 5)
      wait "$storm" || true
      echo "login: $line; logins/s $(awk '/^Requests\/sec/ { print $2 }' /tmp/storm_probe_login.$$)"
      rm -f /tmp/storm_probe_login.$$ ;;
    spin:*)
      IFS=: read -r _ policy nice slice <<<"$mode"
      group=$(spinners 'echo 19 > /proc/self/autogroup')
      set_attr "$policy" "$nice" "$slice" $(pgrep -g "$group" | grep -v "^$group$")
      echo "$mode: $(read_load 5)"
      kill -- -"$group" 2>/dev/null; sleep 1 ;;
    spin-idle-cgroup)
      if [ -d /sys/fs/cgroup/cpu ]; then CGROUP=/sys/fs/cgroup/cpu/storm_probe_$$; else CGROUP=/sys/fs/cgroup/storm_probe_$$; fi
      mkdir -p "$CGROUP" && echo 1 > "$CGROUP/cpu.idle"
      group=$(spinners "echo \$\$ > $CGROUP/cgroup.procs")
      echo "$mode: $(read_load 5)"
      kill -- -"$group" 2>/dev/null; sleep 1
      rmdir "$CGROUP"; CGROUP="" ;;
    *) echo "unknown mode $mode" >&2; exit 1 ;;
  esac
done
