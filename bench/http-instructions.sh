#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Instructions per HTTP check in sluice-server (user space, callgrind): the server runs under
# valgrind with instrumentation off, wrk warms it up, then it is switched on for a fixed
# number of seconds of wrk load and the instructions counted are divided by the checks answered
# meanwhile. Exact and repeatable on a shared machine where CPU time moves by tens of percent
# between runs; the kernel's share (socket reads and writes) is not in it: bench/http-check.sh
# measures the whole process's CPU.
# Usage: bench/http-instructions.sh [--redis] [--seconds N] [--top N]   (needs valgrind and wrk:
#        source scripts/lib/deps.sh; sluice_install_deps --bench;
#        --redis: against a redis-server started on a free loopback port, the server's side only;
#        SLUICE_SERVER=path: another build's sluice-server, to compare two builds)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=20 top=25 mode=embedded
while [ $# -gt 0 ]; do
  case "$1" in
    --redis) mode=redis ;;
    --seconds) secs=$2; shift ;;
    --top) top=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
server="${SLUICE_SERVER:-$root/build/server/sluice-server}"
[ -x "$server" ] || { echo "build first: $server is missing" >&2; exit 1; }
command -v valgrind >/dev/null && command -v wrk >/dev/null || { echo "needs valgrind and wrk" >&2; exit 1; }
work=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true
  [ -f "$work/redis/redis.pid" ] && bash "$root/scripts/lib/redis.sh" stop "$work/redis" || true
  [ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
port=$(bash "$root/scripts/lib/redis.sh" free-port)
store=()
if [ "$mode" = redis ]; then
  rp=$(bash "$root/scripts/lib/redis.sh" free-port)
  bash "$root/scripts/lib/redis.sh" start "$work/redis" "$rp" >/dev/null
  store=(--redis "redis://127.0.0.1:$rp")
fi
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/cg.out" \
  "$server" --bind 127.0.0.1 --port "$port" --threads 1 --registry-file "$root/bench/registry-bench.json" "${store[@]}" \
  >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
lua="$root/bench/check-post.lua"
wrk -t1 -c4 -d3s -s "$lua" "http://127.0.0.1:$port" >/dev/null # warm-up: keys created, buffers grown
callgrind_control -i on "$pid" >/dev/null
requests=$(wrk -t1 -c4 -d"${secs}s" -s "$lua" "http://127.0.0.1:$port" | awk '/requests in/ {print $1}')
echo "wrk: $requests checks" >&2
callgrind_control -i off "$pid" >/dev/null
callgrind_control -d "$pid" >/dev/null
sleep 1
file=$(ls -t "$work"/cg.out* | head -1)
total=$(callgrind_annotate "$file" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "http_check instructions_per_check=$((total / requests)) checks=$requests (callgrind, $mode, 1 HTTP thread)"
echo "inclusive instructions per check, top $top:"
callgrind_annotate --inclusive=yes "$file" 2>/dev/null | awk -v n="$requests" -v top="$top" '
  /^ *[0-9,]+ \(/ { v=$1; gsub(",", "", v); $1=""; $2=""; sub(/^ +/, ""); sub(/ \[.*$/, "");
                    if (++shown <= top) printf "%9d  %s\n", v / n, substr($0, 1, 110) }'
