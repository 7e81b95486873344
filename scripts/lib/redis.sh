#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A throwaway redis-server on 127.0.0.1 in a directory of its own (tests, benchmarks, scripts/run).
#   redis.sh start <dir> <port> [extra redis-server args…]   (returns once it answers PING)
#   redis.sh stop <dir>
#   redis.sh free-port                                        (prints a free loopback port)
set -euo pipefail

free_port() {
  local p
  for _ in $(seq 200); do
    p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 30000 ))  # <= 50000: a cluster bus port is port + 10000
    if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "$p"; return 0; fi
  done
  echo "no free port found" >&2; return 1
}

case "${1:-}" in
  start)
    dir=$2 port=$3; shift 3
    mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --enable-debug-command local --dir "$dir" \
      --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" "$@"
    for _ in $(seq 100); do
      [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && exit 0
      sleep 0.1
    done
    echo "redis-server on port $port did not answer; log: $dir/redis.log" >&2; tail -5 "$dir/redis.log" >&2 || true; exit 1 ;;
  stop)
    dir=$2
    [ -f "$dir/redis.pid" ] || exit 0
    pid=$(cat "$dir/redis.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || { rm -f "$dir/redis.pid"; exit 0; }; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true; rm -f "$dir/redis.pid" ;;
  free-port) free_port ;;
  *) echo "usage: $0 start <dir> <port> [args…] | stop <dir> | free-port" >&2; exit 2 ;;
esac
