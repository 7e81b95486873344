#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A throwaway 3-primary Redis Cluster on 127.0.0.1 (tests and benchmarks).
#   redis-cluster.sh start <dir> <port1> <port2> <port3>
#   redis-cluster.sh stop <dir>
#   redis-cluster.sh restart-node <dir> <port>
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
node_args=(--cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000)

wait_ok() { # ports…
  for _ in $(seq 200); do
    local ok=1 p
    for p in "$@"; do
      redis-cli -p "$p" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || ok=0
    done
    [ $ok = 1 ] && return 0
    sleep 0.1
  done
  echo "the cluster did not reach cluster_state:ok" >&2; return 1
}

case "${1:-}" in
  start)
    dir=$2; shift 2
    mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
    for p in "$@"; do bash "$here/redis.sh" start "$dir/node-$p" "$p" "${node_args[@]}"; echo "$p" >> "$dir/ports"; done
    hosts=(); for p in "$@"; do hosts+=("127.0.0.1:$p"); done
    redis-cli --cluster create "${hosts[@]}" --cluster-yes >"$dir/create.log" 2>&1 || { cat "$dir/create.log" >&2; exit 1; }
    wait_ok "$@" ;;
  stop)
    dir=$2
    [ -f "$dir/ports" ] || exit 0
    while read -r p; do bash "$here/redis.sh" stop "$dir/node-$p"; done < "$dir/ports"
    rm -f "$dir/ports" ;;
  restart-node)
    dir=$2 port=$3
    bash "$here/redis.sh" stop "$dir/node-$port"
    bash "$here/redis.sh" start "$dir/node-$port" "$port" "${node_args[@]}"
    mapfile -t ports < "$dir/ports"
    wait_ok "${ports[@]}" ;;
  *) echo "usage: $0 start <dir> <p1> <p2> <p3> | stop <dir> | restart-node <dir> <port>" >&2; exit 2 ;;
esac
