# Sourced by the CI scripts: starts the service on the memory store on a
# free port and sets ADDR (its base URL) and SERVICE_PID; stops it on exit.
# Usage: start_service <binary> [VAR=value ...]
start_service() {
  local bin="$1"
  shift
  SERVICE_LOG="$(mktemp)"
  env BIND_ADDR=127.0.0.1:0 STORE=memory BCRYPT_COST=4 RUST_LOG=warn,posts_api=info \
    "$@" "$bin" serve >"$SERVICE_LOG" 2>&1 &
  SERVICE_PID=$!
  trap 'kill "$SERVICE_PID" 2>/dev/null || true; rm -f "$SERVICE_LOG"' EXIT
  ADDR=""
  for _ in $(seq 1 100); do
    ADDR="$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$SERVICE_LOG" | head -n 1 || true)"
    [ -n "$ADDR" ] && return 0
    sleep 0.1
  done
  cat "$SERVICE_LOG"
  echo "the service did not start"
  return 1
}

# Fails (printing the service's log) when the service has died.
service_still_up() {
  if ! kill -0 "$SERVICE_PID" 2>/dev/null; then
    cat "$SERVICE_LOG"
    echo "the service died"
    return 1
  fi
}
