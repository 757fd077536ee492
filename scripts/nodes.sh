#!/usr/bin/env bash
# Three (or N) independent local redis-server nodes to try redlead against:
#
#   scripts/nodes.sh start [N]   start N nodes (default 3) on free loopback ports;
#                                prints their URLs, also kept in $DIR/urls
#   scripts/nodes.sh urls        the URLs, comma-separated (for REDLEAD_NODES=...)
#   scripts/nodes.sh stop        stop them (by pid) and remove their data
#
# DIR defaults to ${TMPDIR:-/tmp}/redlead-nodes-$USER. For trying things out
# only: real deployments run independent masters on separate machines
# (README, "Running it for real").
set -euo pipefail
DIR="${REDLEAD_NODES_DIR:-${TMPDIR:-/tmp}/redlead-nodes-${USER:-$(id -u)}}"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start() {
  local n="${1:-3}"
  [ ! -f "$DIR/urls" ] || { echo "nodes already running (scripts/nodes.sh stop first):"; cat "$DIR/urls"; exit 1; }
  "$(dirname "$0")/ensure-redis.sh" >/dev/null
  mkdir -p "$DIR"
  local i port
  for i in $(seq 1 "$n"); do
    mkdir -p "$DIR/$i"
    for _ in 1 2 3 4 5; do
      port="$(free_port)"
      # appendfsync everysec: a restarted node remembers most keys; the
      # README explains why redlead also waits a ttl after a restart.
      if redis-server --port "$port" --bind 127.0.0.1 --dir "$DIR/$i" --daemonize yes \
        --pidfile "$DIR/$i/redis.pid" --logfile "$DIR/$i/redis.log" \
        --save "" --appendonly yes --appendfsync everysec >/dev/null; then
        for _ in $(seq 1 50); do
          redis-cli -p "$port" ping >/dev/null 2>&1 && break
          sleep 0.1
        done
        if redis-cli -p "$port" ping >/dev/null 2>&1; then
          echo "redis://127.0.0.1:$port" >>"$DIR/urls"
          break
        fi
      fi
    done
  done
  [ "$(wc -l <"$DIR/urls")" -eq "$n" ] || { echo "could not start $n nodes"; stop; exit 1; }
  cat "$DIR/urls"
}

stop() {
  local pidfile pids=()
  for pidfile in "$DIR"/*/redis.pid; do
    [ -f "$pidfile" ] && pids+=("$(cat "$pidfile")")
  done
  [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true
  # A node flushes its AOF on SIGTERM; its folder goes only once it exited.
  local alive p
  for _ in $(seq 1 50); do
    alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 1 ] || break
    sleep 0.1
  done
  [ ${#pids[@]} -eq 0 ] || kill -9 "${pids[@]}" 2>/dev/null || true
  rm -rf "$DIR"
}

case "${1:-}" in
  start) start "${2:-3}" ;;
  urls) [ -f "$DIR/urls" ] && paste -sd, "$DIR/urls" || { echo "no nodes running: scripts/nodes.sh start" >&2; exit 1; } ;;
  stop) stop ;;
  *) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
