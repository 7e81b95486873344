#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A throwaway 3-primary Redis Cluster on 127.0.0.1 (tests and benchmarks); node <port> lives in
# <dir>/node-<port> (its nodes.conf survives a restart); cluster bus ports are port + 10000.
#   redis-cluster.sh start <dir> <port1> <port2> <port3>   (returns once every node says cluster_state:ok)
#   redis-cluster.sh stop <dir>
#   redis-cluster.sh restart-node <dir> <port>             (same dir and nodes.conf; waits for cluster_state:ok)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
node_args=(--cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000)

wait_ok() { # ports…   (at most 20 s)
  local deadline=$((SECONDS + 20)) ok p
  while [ $SECONDS -le $deadline ]; do
    ok=1
    for p in "$@"; do
      redis-cli -p "$p" cluster info 2>/dev/null | tr -d '\r' | grep -x 'cluster_state:ok' >/dev/null || { ok=0; break; }
    done
    [ $ok = 1 ] && return 0
    sleep 0.1
  done
  echo "the cluster on ports $* did not reach cluster_state:ok in 20 s" >&2; return 1
}

stop_all() { # dir
  local p
  [ -f "$1/ports" ] || return 0
  while read -r p; do [ -n "$p" ] && bash "$here/redis.sh" stop "$1/node-$p"; done < "$1/ports"
  rm -f "$1/ports"
}

case "${1:-}" in
  start)
    [ $# -ge 5 ] || { echo "usage: $0 start <dir> <port1> <port2> <port3>" >&2; exit 2; }
    dir=$2; shift 2
    mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
    stop_all "$dir"
    : >"$dir/ports"
    hosts=()
    for p in "$@"; do
      rm -rf "$dir/node-$p"; echo "$p" >>"$dir/ports" # a fresh node; listed before it starts: a failed start still stops what did start
      bash "$here/redis.sh" start "$dir/node-$p" "$p" "${node_args[@]}" || { stop_all "$dir"; exit 1; }
      hosts+=("127.0.0.1:$p")
    done
    if ! redis-cli --cluster create "${hosts[@]}" --cluster-yes >"$dir/create.log" 2>&1; then
      cat "$dir/create.log" >&2; stop_all "$dir"; exit 1
    fi
    wait_ok "$@" || { stop_all "$dir"; exit 1; } ;;
  stop)
    [ $# -ge 2 ] || { echo "usage: $0 stop <dir>" >&2; exit 2; }
    stop_all "$2" ;;
  restart-node)
    [ $# -ge 3 ] || { echo "usage: $0 restart-node <dir> <port>" >&2; exit 2; }
    dir=$2 port=$3
    [ -f "$dir/node-$port/nodes.conf" ] || { echo "no cluster node $port in $dir" >&2; exit 1; }
    bash "$here/redis.sh" stop "$dir/node-$port"
    bash "$here/redis.sh" start "$dir/node-$port" "$port" "${node_args[@]}"
    mapfile -t ports < "$dir/ports"
    wait_ok "${ports[@]}" ;;
  *) echo "usage: $0 start <dir> <p1> <p2> <p3> | stop <dir> | restart-node <dir> <port>" >&2; exit 2 ;;
esac
