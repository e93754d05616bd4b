# The pieces deploy/topology.sh is made of: state, ports, nodes, PgBouncers,
# instances. Sourced by it (set -euo pipefail and its settings: DIR, VIA,
# BINARY, BINDIR, PGBOUNCER_BIN, DB, STATE, die, say), never run alone.
# shellcheck shell=bash

# PostgreSQL refuses to run as root, and PgBouncer too: as root, run them as
# `postgres` in directories it owns.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

port_in_use() { ss -Htln "sport = :$1" | grep -q .; }

# The next free loopback port from $NEXT_PORT on.
NEXT_PORT=""
free_port() {
  if [ -z "$NEXT_PORT" ]; then NEXT_PORT="${PORT_BASE:-$((20000 + RANDOM % 30000))}"; fi
  while port_in_use "$NEXT_PORT"; do NEXT_PORT=$((NEXT_PORT + 1)); done
  FREE_PORT="$NEXT_PORT"
  NEXT_PORT=$((NEXT_PORT + 1))
}

load_state() {
  [ -f "$STATE" ] || die "no topology under $DIR (run: $0 --dir $DIR up)"
  # shellcheck disable=SC1090
  . "$STATE"
}

save_state() {
  cat >"$STATE" <<EOF
NODE1_PORT=$NODE1_PORT
NODE2_PORT=$NODE2_PORT
BOUNCER1_PORT=${BOUNCER1_PORT:-}
BOUNCER2_PORT=${BOUNCER2_PORT:-}
PRIMARY=$PRIMARY
STANDBY=$STANDBY
VIA=$VIA
INSTANCE_PORTS="${INSTANCE_PORTS:-}"
BINARY="${BINARY:-}"
JWT_SECRET=$JWT_SECRET
EOF
}

node_port() { if [ "$1" = node1 ]; then echo "$NODE1_PORT"; else echo "$NODE2_PORT"; fi; }
bouncer_port() { if [ "$1" = node1 ]; then echo "${BOUNCER1_PORT:-}"; else echo "${BOUNCER2_PORT:-}"; fi; }

node_running() { as_pg "$BINDIR/pg_ctl" -D "$DIR/$1" status >/dev/null 2>&1; }

psql_at() { # port sql
  as_pg "$BINDIR/psql" -X -q -At -h 127.0.0.1 -p "$1" -U postgres -d postgres -c "$2"
}

direct_url() {
  echo "postgres://postgres@127.0.0.1:$NODE1_PORT,127.0.0.1:$NODE2_PORT/$DB?target_session_attrs=read-write"
}
pooled_url() {
  echo "postgres://postgres@127.0.0.1:$BOUNCER1_PORT,127.0.0.1:$BOUNCER2_PORT/$DB?target_session_attrs=read-write"
}

start_node() { # name
  as_pg "$BINDIR/pg_ctl" -D "$DIR/$1" -l "$DIR/$1.log" -w -t 30 start >/dev/null ||
    die "$1 did not start; see $DIR/$1.log"
}

# A standby of $1 in $2: a base backup with -R (standby.signal and
# primary_conninfo naming it by application_name, which the primary's
# synchronous_standby_names lists), then started and streaming. Like
# initdb, without fsync: a throwaway copy, and syncing it costs seconds.
make_standby() { # primary standby
  local from; from="$(node_port "$1")"
  rm -rf "${DIR:?}/$2"
  as_pg "$BINDIR/pg_basebackup" -h 127.0.0.1 -p "$from" -U postgres -D "$DIR/$2" \
    -R -X stream -c fast --no-sync -d "application_name=$2" >/dev/null
  cat >>"$DIR/$2/postgresql.auto.conf" <<EOF
port = $(node_port "$2")
synchronous_standby_names = ''
EOF
  start_node "$2"
  psql_at "$from" "ALTER SYSTEM SET synchronous_standby_names = '$2'" >/dev/null
  psql_at "$from" "SELECT pg_reload_conf()" >/dev/null
  # Commits on the primary now wait for the standby: check it is streaming
  # synchronously before anyone writes.
  local state=""
  for _ in $(seq 1 100); do
    state="$(psql_at "$from" "SELECT sync_state FROM pg_stat_replication WHERE application_name = '$2'")"
    [ "$state" = sync ] && return 0
    sleep 0.1
  done
  die "$2 is not a synchronous standby of $1 (sync_state '$state'); see $DIR/$2.log"
}

start_bouncer() { # node
  local dir="$DIR/pgbouncer-$1" port; port="$(bouncer_port "$1")"
  mkdir -p "$dir"
  echo '"postgres" ""' >"$dir/userlist.txt"
  cat >"$dir/pgbouncer.ini" <<EOF
; PgBouncer in front of $1 only: it goes down with its node.
[databases]
$DB = host=127.0.0.1 port=$(node_port "$1") dbname=$DB
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
admin_users = postgres
pool_mode = transaction
default_pool_size = 4
max_client_conn = 500
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
EOF
  [ "$(id -u)" = 0 ] && chown -R postgres: "$dir"
  as_pg "$PGBOUNCER_BIN" -d "$dir/pgbouncer.ini" || die "pgbouncer for $1 did not start; see $dir/pgbouncer.log"
  for _ in $(seq 1 50); do port_in_use "$port" && return 0; sleep 0.1; done
  die "pgbouncer for $1 does not listen on $port; see $dir/pgbouncer.log"
}

stop_bouncer() { # node
  local pidfile="$DIR/pgbouncer-$1/pgbouncer.pid"
  if [ -f "$pidfile" ]; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  fi
}

find_binary() {
  if [ -z "$BINARY" ]; then
    local root; root="$(cd "$(dirname "$0")/.." && pwd)"
    BINARY="${CARGO_TARGET_DIR:-$root/target}/release/posts-api"
  fi
  [ -x "$BINARY" ] || die "no posts-api binary at $BINARY (cargo build --release, or --binary PATH)"
  # Behind a transaction pooler the service must know it (no named
  # prepared statements): a binary without the setting would fail there.
  if [ "$VIA" = pgbouncer ] && ! "$BINARY" --help 2>/dev/null | grep -q -- --database-pooler; then
    die "$BINARY has no DATABASE_POOLER setting, needed behind PgBouncer: use --via direct, or a newer binary"
  fi
}

# The schema goes in over a direct connection to the primary: migrations
# take a session-level advisory lock, which a transaction pooler cannot keep.
migrate() {
  STORE=postgres DATABASE_URL="$(direct_url)" RUST_LOG=warn "$BINARY" migrate >"$DIR/migrate.log" 2>&1 ||
    die "migrations failed; see $DIR/migrate.log"
  say "$(tail -n 1 "$DIR/migrate.log")"
}

start_instance() { # index port
  local url pooler=none
  if [ "$VIA" = pgbouncer ]; then url="$(pooled_url)"; pooler=transaction; else url="$(direct_url)"; fi
  STORE=postgres DATABASE_URL="$url" DATABASE_POOLER="$pooler" JWT_SECRET="$JWT_SECRET" \
    BIND_ADDR="127.0.0.1:$2" DATABASE_TIMEOUT_SECONDS="${DATABASE_TIMEOUT_SECONDS:-2}" NO_COLOR=1 \
    nohup "$BINARY" serve >"$DIR/instance$1.log" 2>&1 &
  echo $! >"$DIR/instance$1.pid"
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$2/readyz" 2>/dev/null && return 0
    kill -0 "$(cat "$DIR/instance$1.pid")" 2>/dev/null || die "instance $1 exited; see $DIR/instance$1.log"
    sleep 0.1
  done
  die "instance $1 not ready on port $2; see $DIR/instance$1.log"
}

print_urls() {
  echo "primary   $PRIMARY  postgres://postgres@127.0.0.1:$(node_port "$PRIMARY")/$DB"
  echo "standby   $STANDBY  postgres://postgres@127.0.0.1:$(node_port "$STANDBY")/$DB"
  echo "direct    $(direct_url)"
  [ -n "${BOUNCER1_PORT:-}" ] && echo "pgbouncer $(pooled_url)"
  local i=0
  for port in $INSTANCE_PORTS; do
    i=$((i + 1))
    echo "instance$i http://127.0.0.1:$port (logs: $DIR/instance$i.log)"
  done
  return 0
}
