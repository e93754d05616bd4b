#!/usr/bin/env bash
# A production-like topology on one machine, all on loopback:
#
#   node1  PostgreSQL 15 primary         (synchronous_standby_names = node2)
#   node2  PostgreSQL 15 standby         (pg_basebackup -R, streaming, synchronous)
#   pgbouncer1, pgbouncer2               one PgBouncer per node, pool_mode=transaction
#   posts-api x N                        behind both PgBouncers, one multi-host URL:
#     postgres://postgres@127.0.0.1:B1,127.0.0.1:B2/posts?target_session_attrs=read-write
#
# Why one PgBouncer per node: PgBouncer 1.18 follows no failover (its `host`
# list round-robins, it never asks which node is writable). A PgBouncer on
# each database node goes down with its node, and the service's multi-host
# URL with target_session_attrs=read-write picks whichever node answers
# writable: the same rule whether the service talks to the nodes directly
# (`--via direct`) or through their PgBouncers (`--via pgbouncer`).
#
# Usage: deploy/topology.sh [options] COMMAND
#   up            build and start everything (nothing if already up), print the URLs
#   status        each node's role, replication, PgBouncers, each instance's /readyz
#   env           ports, roles and URLs as KEY=value lines (for scripts and tests)
#   failover      the primary's node is lost (pg_ctl -m immediate, its PgBouncer
#                 stopped) and the standby promoted: stop-primary then promote
#   switchover    planned: fence the primary read-only (it keeps running), promote
#   rejoin        the old primary comes back as a synchronous standby of the new one
#   down          stop everything and remove the directory
#   stop-primary, promote   the two halves of failover, for tests that act between them
# Options (or the environment variables in brackets):
#   --dir DIR        where everything lives (default /tmp/posts-api-topology) [TOPOLOGY_DIR]
#   --instances N    service instances to start (default 2; 0 = databases only) [TOPOLOGY_INSTANCES]
#   --binary PATH    the posts-api binary (default target/release/posts-api) [POSTS_API_BINARY]
#   --via MODE       pgbouncer (default) or direct: how the instances reach the nodes [TOPOLOGY_VIA]
#                    (pgbouncer needs a binary that has DATABASE_POOLER)
#   --no-pgbouncer   do not start the PgBouncers (implies --via direct)
#   --port-base P    first port to try (default: random free loopback ports)
# Instances get DATABASE_TIMEOUT_SECONDS (default 2 here) and any other setting
# from the environment. Run as root, PostgreSQL and PgBouncer run as the
# `postgres` OS user.
set -euo pipefail

die() { echo "topology: $*" >&2; exit 1; }
say() { echo "topology: $*"; }

DIR="${TOPOLOGY_DIR:-/tmp/posts-api-topology}"
INSTANCES="${TOPOLOGY_INSTANCES:-2}"
BINARY="${POSTS_API_BINARY:-}"
VIA="${TOPOLOGY_VIA:-pgbouncer}"
PGBOUNCER=1
PORT_BASE=""
COMMAND=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) DIR="$2"; shift 2 ;;
    --instances) INSTANCES="$2"; shift 2 ;;
    --binary) BINARY="$2"; shift 2 ;;
    --via) VIA="$2"; shift 2 ;;
    --no-pgbouncer) PGBOUNCER=0; VIA=direct; shift ;;
    --port-base) PORT_BASE="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -z "$COMMAND" ] || die "one command at a time ($COMMAND, $1)"; COMMAND="$1"; shift ;;
  esac
done
[ -n "$COMMAND" ] || die "no command: up, status, env, failover, switchover, stop-primary, promote, rejoin or down (see --help)"
case "$VIA" in pgbouncer|direct) ;; *) die "--via must be pgbouncer or direct, not $VIA" ;; esac
[[ "$INSTANCES" =~ ^[0-9]+$ ]] || die "--instances must be a number, not $INSTANCES"

BINDIR="$(pg_config --bindir 2>/dev/null)" || die "pg_config not found (install postgresql-15)"
PGBOUNCER_BIN="${PGBOUNCER_BIN:-/usr/sbin/pgbouncer}"
DB=posts
STATE="$DIR/topology.env"

# shellcheck source=deploy/lib.sh
. "$(dirname "$0")/lib.sh"

cmd_up() {
  if [ -f "$STATE" ]; then
    load_state
    say "already up under $DIR"
    print_urls
    return 0
  fi
  [ "$INSTANCES" = 0 ] || find_binary
  [ "$PGBOUNCER" = 0 ] || [ -x "$PGBOUNCER_BIN" ] || die "no pgbouncer at $PGBOUNCER_BIN (apt-get install pgbouncer)"
  [ "$PGBOUNCER" = 1 ] || [ "$VIA" = direct ] || die "--via pgbouncer needs the PgBouncers"
  mkdir -p "$DIR"
  [ "$(id -u)" = 0 ] && chown postgres: "$DIR"
  free_port; NODE1_PORT=$FREE_PORT
  free_port; NODE2_PORT=$FREE_PORT
  if [ "$PGBOUNCER" = 1 ]; then
    free_port; BOUNCER1_PORT=$FREE_PORT
    free_port; BOUNCER2_PORT=$FREE_PORT
  fi
  PRIMARY=node1 STANDBY=node2
  JWT_SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  INSTANCE_PORTS=""
  save_state

  say "primary node1 on port $NODE1_PORT"
  as_pg "$BINDIR/initdb" -D "$DIR/node1" -U postgres -A trust --no-sync >/dev/null
  cat >>"$DIR/node1/postgresql.auto.conf" <<EOF
port = $NODE1_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
wal_level = replica
max_wal_senders = 5
max_connections = 200
EOF
  echo "host replication postgres 127.0.0.1/32 trust" >>"$DIR/node1/pg_hba.conf"
  start_node node1
  psql_at "$NODE1_PORT" "CREATE DATABASE $DB" >/dev/null
  say "synchronous standby node2 on port $NODE2_PORT"
  make_standby node1 node2
  if [ "$PGBOUNCER" = 1 ]; then
    say "pgbouncer1 on port $BOUNCER1_PORT (node1), pgbouncer2 on port $BOUNCER2_PORT (node2)"
    start_bouncer node1
    start_bouncer node2
  fi
  if [ "$INSTANCES" -gt 0 ]; then
    migrate
    for i in $(seq 1 "$INSTANCES"); do
      free_port
      INSTANCE_PORTS="${INSTANCE_PORTS:+$INSTANCE_PORTS }$FREE_PORT"
      save_state
      start_instance "$i" "$FREE_PORT"
    done
  fi
  save_state
  say "up (via $VIA); JWT_SECRET is in $STATE"
  print_urls
}

cmd_status() {
  load_state
  for node in node1 node2; do
    local port; port="$(node_port "$node")"
    if node_running "$node"; then
      local role; role="$(psql_at "$port" "SELECT CASE WHEN pg_is_in_recovery() THEN 'standby' WHEN current_setting('default_transaction_read_only')::bool THEN 'old primary, fenced read-only' ELSE 'primary' END")"
      echo "$node  port $port  running, $role"
    else
      echo "$node  port $port  stopped"
    fi
  done
  local primary_port; primary_port="$(node_port "$PRIMARY")"
  if node_running "$PRIMARY"; then
    echo "replication from $PRIMARY: $(psql_at "$primary_port" "SELECT coalesce(string_agg(application_name || ' ' || state || ' ' || sync_state, ', '), 'none') FROM pg_stat_replication")"
  fi
  for node in node1 node2; do
    local port; port="$(bouncer_port "$node")"
    [ -n "$port" ] || continue
    if port_in_use "$port"; then echo "pgbouncer-$node  port $port  running"; else echo "pgbouncer-$node  port $port  stopped"; fi
  done
  local i=0
  for port in $INSTANCE_PORTS; do
    i=$((i + 1))
    echo "instance$i  http://127.0.0.1:$port  /readyz $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz" || echo down)"
  done
}

# The primary's node is lost: its PostgreSQL dies without a checkpoint
# (as in a crash: -m immediate) and its PgBouncer with it.
cmd_stop_primary() {
  load_state
  if node_running "$PRIMARY"; then
    as_pg "$BINDIR/pg_ctl" -D "$DIR/$PRIMARY" -m immediate -w stop >/dev/null
    say "stopped the primary $PRIMARY (-m immediate)"
  else
    say "the primary $PRIMARY is already stopped"
  fi
  stop_bouncer "$PRIMARY"
}

cmd_promote() {
  load_state
  node_running "$STANDBY" || die "the standby $STANDBY is not running: nothing to promote (run rejoin?)"
  if [ "$(psql_at "$(node_port "$STANDBY")" "SELECT pg_is_in_recovery()")" = t ]; then
    as_pg "$BINDIR/pg_ctl" -D "$DIR/$STANDBY" -w promote >/dev/null
    say "promoted $STANDBY: it is the primary now, on port $(node_port "$STANDBY")"
  else
    say "$STANDBY is already a primary"
  fi
  # The new primary has no standby yet: commits must not wait for one.
  psql_at "$(node_port "$STANDBY")" "ALTER SYSTEM SET synchronous_standby_names = ''" >/dev/null
  psql_at "$(node_port "$STANDBY")" "SELECT pg_reload_conf()" >/dev/null
  local old="$PRIMARY"
  PRIMARY="$STANDBY" STANDBY="$old"
  save_state
}

# Refuses before it stops anything when there is no standby to promote:
# a second failover in a row must not take down the only primary left.
require_standby() {
  load_state
  node_running "$STANDBY" &&
    [ "$(psql_at "$(node_port "$STANDBY")" "SELECT pg_is_in_recovery()")" = t ] ||
    die "no standby to promote ($STANDBY is not a running standby): run rejoin first"
}

cmd_failover() {
  require_standby
  cmd_stop_primary
  cmd_promote
  say "the service instances find the new primary by themselves (target_session_attrs=read-write)"
}

# A planned switchover with no process killed: the primary is fenced
# (default_transaction_read_only, reloaded: its open sessions now refuse
# writes with SQLSTATE 25006 but stay connected), then the standby, in sync,
# is promoted. The old primary keeps running read-only until `rejoin`.
cmd_switchover() {
  require_standby
  node_running "$PRIMARY" || die "the primary $PRIMARY is not running (use failover)"
  local port; port="$(node_port "$PRIMARY")"
  psql_at "$port" "ALTER SYSTEM SET default_transaction_read_only = on" >/dev/null
  psql_at "$port" "SELECT pg_reload_conf()" >/dev/null
  say "fenced the primary $PRIMARY: read-only, its sessions stay open"
  cmd_promote
}

# The old primary comes back as a synchronous standby of the new primary
# (a fresh base backup: simpler and surer than pg_rewind here); a fenced
# old primary still running is stopped first.
cmd_rejoin() {
  load_state
  if node_running "$STANDBY"; then
    [ "$(psql_at "$(node_port "$STANDBY")" "SELECT pg_is_in_recovery()")" = f ] ||
      die "$STANDBY is already a running standby"
    as_pg "$BINDIR/pg_ctl" -D "$DIR/$STANDBY" -m fast -w stop >/dev/null
    say "stopped the old primary $STANDBY"
  fi
  node_running "$PRIMARY" || die "the primary $PRIMARY is not running"
  make_standby "$PRIMARY" "$STANDBY"
  if [ -n "$(bouncer_port "$STANDBY")" ] && ! port_in_use "$(bouncer_port "$STANDBY")"; then
    start_bouncer "$STANDBY"
  fi
  say "$STANDBY rejoined as a synchronous standby of $PRIMARY"
}

cmd_down() {
  if [ ! -f "$STATE" ]; then
    [ -d "$DIR" ] && rm -rf "${DIR:?}"
    say "nothing up under $DIR"
    return 0
  fi
  load_state
  local i=0
  for _ in $INSTANCE_PORTS; do
    i=$((i + 1))
    if [ -f "$DIR/instance$i.pid" ]; then kill "$(cat "$DIR/instance$i.pid")" 2>/dev/null || true; fi
  done
  stop_bouncer node1
  stop_bouncer node2
  for node in node1 node2; do
    if node_running "$node"; then as_pg "$BINDIR/pg_ctl" -D "$DIR/$node" -m immediate -w stop >/dev/null || true; fi
  done
  rm -rf "${DIR:?}"
  say "down; removed $DIR"
}

# Machine-readable: the state file (ports, roles, URLs), for tests and scripts.
cmd_env() {
  load_state
  cat "$STATE"
  echo "PRIMARY_PORT=$(node_port "$PRIMARY")"
  echo "STANDBY_PORT=$(node_port "$STANDBY")"
  echo "DIRECT_URL=$(direct_url)"
  [ -n "${BOUNCER1_PORT:-}" ] && echo "POOLED_URL=$(pooled_url)"
  return 0
}

case "$COMMAND" in
  up) cmd_up ;;
  status) cmd_status ;;
  env) cmd_env ;;
  failover) cmd_failover ;;
  switchover) cmd_switchover ;;
  stop-primary) cmd_stop_primary ;;
  promote) cmd_promote ;;
  rejoin) cmd_rejoin ;;
  down) cmd_down ;;
  *) die "unknown command $COMMAND (see --help)" ;;
esac
