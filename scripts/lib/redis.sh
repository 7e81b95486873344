#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A throwaway redis-server on 127.0.0.1 in a directory of its own (tests, benchmarks, scripts/run).
#   redis.sh start <dir> <port> [extra redis-server args…]   (returns once it answers PING; prints only errors)
#   redis.sh sentinel <dir> <port> <master-name> <primary-port> [auth-pass]   (a Redis Sentinel watching that primary)
#   redis.sh stop <dir>
#   redis.sh kill <dir>                                       (SIGKILL: a crash, for failover tests)
#   redis.sh free-port                                        (prints a free loopback port)
set -euo pipefail

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Alive and not a zombie (a daemon's parent is pid 1, which may take its time to reap it).
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

# 10000-19999: below Linux's ephemeral range (32768+, where outgoing connections take their local
# ports), and the Redis Cluster bus port (port + 10000) is free too and below it as well.
free_port() {
  local p
  for _ in $(seq 200); do
    p=$(( 10000 + (RANDOM * 32768 + RANDOM) % 10000 ))
    if ! answers "$p" && ! answers $((p + 10000)); then echo "$p"; return 0; fi
  done
  echo "no free port found" >&2; return 1
}

# The pid in <dir>/redis.pid when it is a live redis-server (not a stale file, not a reused pid).
live_pid() {
  local dir=$1 pid
  [ -f "$dir/redis.pid" ] || return 1
  pid=$(cat "$dir/redis.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && alive "$pid" || return 1
  if [ -r "/proc/$pid/comm" ] && ! grep -q redis "/proc/$pid/comm"; then return 1; fi
  echo "$pid"
}

case "${1:-}" in
  start | sentinel)
    [ $# -ge 3 ] || { echo "usage: $0 start <dir> <port> [args…]" >&2; exit 2; }
    mode=$1 dir=$2 port=$3; shift 3
    mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
    config=() extra=(--save '' --appendonly no --enable-debug-command local)
    if [ "$mode" = sentinel ]; then
      # Sentinel is redis-server in sentinel mode (Debian's redis-sentinel is the same binary); it
      # rewrites its config file, which must therefore be its own. Fast failover for tests.
      [ $# -eq 2 ] || [ $# -eq 3 ] || { echo "usage: $0 sentinel <dir> <port> <master-name> <primary-port> [auth-pass]" >&2; exit 2; }
      cat >"$dir/sentinel.conf" <<EOF_CONF
sentinel monitor $1 127.0.0.1 $2 2
sentinel down-after-milliseconds $1 1000
sentinel failover-timeout $1 5000
sentinel parallel-syncs $1 1
EOF_CONF
      [ $# -eq 3 ] && echo "sentinel auth-pass $1 $3" >>"$dir/sentinel.conf"
      config=("$dir/sentinel.conf" --sentinel) extra=(); shift $#
    fi
    if pid=$(live_pid "$dir"); then echo "redis-server already runs in $dir (pid $pid)" >&2; exit 1; fi
    rm -f "$dir/redis.pid" # stale
    # A server started with --requirepass is asked with it (redis-cli reads REDISCLI_AUTH).
    prev=""; for a in "$@"; do [ "$prev" = --requirepass ] && export REDISCLI_AUTH="$a"; prev=$a; done
    : >>"$dir/redis.log"; start_line=$(wc -l <"$dir/redis.log")
    redis-server "${config[@]}" --port "$port" --bind 127.0.0.1 "${extra[@]}" --dir "$dir" \
      --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" "$@" >/dev/null
    for _ in $(seq 100); do
      # The pid file is written once the port is bound; the PING must come from that process
      # (not from another server that already held the port).
      if pid=$(live_pid "$dir"); then
        if redis-cli -p "$port" info server 2>/dev/null | tr -d '\r' | grep -x "process_id:$pid" >/dev/null; then exit 0; fi
      elif tail -n +"$((start_line + 1))" "$dir/redis.log" | grep -E 'aborting|FATAL|Fatal error' >/dev/null; then
        break
      fi
      sleep 0.1
    done
    echo "redis-server on 127.0.0.1:$port did not start; log: $dir/redis.log" >&2
    tail -n +"$((start_line + 1))" "$dir/redis.log" | tail -5 >&2 || true
    if pid=$(live_pid "$dir"); then kill -9 "$pid" 2>/dev/null || true; fi
    rm -f "$dir/redis.pid"; exit 1 ;;
  stop)
    [ $# -ge 2 ] || { echo "usage: $0 stop <dir>" >&2; exit 2; }
    dir=$2
    pid=$(live_pid "$dir") || { rm -f "$dir/redis.pid"; exit 0; }
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do alive "$pid" || { rm -f "$dir/redis.pid"; exit 0; }; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
    for _ in $(seq 40); do alive "$pid" || break; sleep 0.05; done
    rm -f "$dir/redis.pid" ;;
  kill)
    [ $# -ge 2 ] || { echo "usage: $0 kill <dir>" >&2; exit 2; }
    pid=$(live_pid "$2") || exit 0
    kill -9 "$pid" 2>/dev/null || true
    for _ in $(seq 40); do alive "$pid" || break; sleep 0.05; done
    rm -f "$2/redis.pid" ;;
  free-port) free_port ;;
  *) echo "usage: $0 start <dir> <port> [args…] | stop <dir> | free-port" >&2; exit 2 ;;
esac
