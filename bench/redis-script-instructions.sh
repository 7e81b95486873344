#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Instructions Redis spends per call of the check script (resources/lua/window_check.lua, or
# another file to compare): redis-server runs under callgrind on a free loopback port, the script
# is loaded, a few calls warm it, then --calls calls of one batch like the HTTP benchmark's are
# counted (the demo's four request logs per check: its user's key, and the tenant's, the tier's
# and the global key the batch shares). Exact and repeatable where Redis' CPU time moves by tens
# of percent between runs; bench/http-check.sh --redis measures the process's CPU under load.
# --window-s S: every key's window (3600: nothing leaves during the run, as in http-check.sh);
# --prefill N: the three shared keys start with N entries each, spread evenly over the window
# that ends as the run starts, so that entries leave the window during the run as they do under
# steady traffic (N / S per second of the run: under callgrind a call takes milliseconds);
# --kind t: the keys are tokens logs (each entry of weight 1 here) instead of requests logs.
# Every script given must take the arguments this build's server writes (checkbatcher.cpp): a
# script of an earlier argument layout needs this file of its own build.
# Usage: bench/redis-script-instructions.sh [--checks N] [--calls N] [--window-s S] [--prefill N] [--kind r|t] [script.lua ...]
#        (needs valgrind, redis-server, redis-cli, redis-benchmark: scripts/lib/deps.sh --bench)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
checks=9 calls=200 window_s=3600 prefill=0 kind=r scripts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --checks) checks=$2; shift ;;
    --calls) calls=$2; shift ;;
    --window-s) window_s=$2; shift ;;
    --prefill) prefill=$2; shift ;;
    --kind) kind=$2; shift ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) scripts+=("$1") ;;
  esac
  shift
done
[ ${#scripts[@]} -gt 0 ] || scripts=("$root/resources/lua/window_check.lua")
for t in valgrind callgrind_control redis-server redis-cli redis-benchmark; do
  command -v $t >/dev/null || { echo "needs $t" >&2; exit 1; }
done
work=$(mktemp -d)
cleanup() {
  [ -n "${port:-}" ] && redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  sleep 0.5; rm -rf "$work"
}
trap cleanup EXIT
port=$(bash "$root/scripts/lib/redis.sh" free-port)
(cd "$work" && exec valgrind --tool=callgrind --callgrind-out-file="$work/cg.%p" \
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no >"$work/redis.log" 2>&1) &
for _ in $(seq 300); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
pid=$(redis-cli -p "$port" info server | awk -F: '/^process_id/{print $2}' | tr -d '\r')
# One batch: the users' keys, then the three shared ones; per key window (us), limit, kind
# (--kind; burst 0, not a shadow); per check its four keys (no lease key, no record: no id), each of
# weight 1 (its index alone).
shared=("sluice:{tenant:enterprise_co}" "sluice:{model_tier:premium}" "sluice:{global}")
keys=() spec=() per=()
for c in $(seq "$checks"); do keys+=("sluice:{user_model:u$c:gpt-4o}"); done
keys+=("${shared[@]}")
nkeys=${#keys[@]}
for _ in $(seq "$nkeys"); do spec+=("${window_s}000000" 1000000000000 "$kind"); done
for c in $(seq "$checks"); do per+=(4 "$c" $((checks + 1)) $((checks + 2)) $((checks + 3))); done
for s in "${scripts[@]}"; do
  sha=$(redis-cli -p "$port" script load "$(cat "$s")")
  redis-cli -p "$port" flushall >/dev/null
  if [ "$prefill" -gt 0 ]; then # (the entries' times in us, oldest first, as the script writes them)
    redis-cli -p "$port" eval "local t = redis.call('TIME'); local now = t[1] * 1000000 + t[2]
      local n, w = tonumber(ARGV[1]), tonumber(ARGV[2]) * 1000000
      for _, k in ipairs(KEYS) do
        local q = {}
        for i = 1, n do
          q[#q + 1] = string.format('%.0f', now - w + i * w / n)
          if #q == 1000 or i == n then redis.call('RPUSH', k, unpack(q)); q = {} end
        end
      end" 3 "${shared[@]}" "$prefill" "$window_s" >/dev/null
  fi
  cmd=(EVALSHA "$sha" "$nkeys" "${keys[@]}" "$nkeys" "$checks" 1000000 "${spec[@]}" "${per[@]}")
  out=$(redis-cli -p "$port" "${cmd[@]}" | head -2 | tail -1) # (admitted + 2 * fits + ...)
  [ $((out % 2)) = 1 ] || { echo "$s: the first check was not admitted ($out)" >&2; exit 1; }
  redis-benchmark -p "$port" -n 20 -c 1 --csv "${cmd[@]}" >/dev/null 2>&1 # warm
  callgrind_control -z "$pid" >/dev/null 2>&1
  redis-benchmark -p "$port" -n "$calls" -c 1 --csv "${cmd[@]}" >/dev/null 2>&1
  before=$(ls "$work"/cg.* 2>/dev/null | wc -l)
  callgrind_control -d "$pid" >/dev/null 2>&1
  for _ in $(seq 100); do [ "$(ls "$work"/cg.* 2>/dev/null | wc -l)" -gt "$before" ] && break; sleep 0.1; done
  sleep 0.3
  dump=$(ls -t "$work"/cg.*.* | head -1)
  total=$(awk '/^summary:/{print $2}' "$dump")
  echo "redis-script $(basename "$s") checks_per_call=$checks keys_per_call=$nkeys" \
       "instructions_per_call=$((total / calls)) instructions_per_check=$((total / calls / checks))" \
       "(redis-server user space, callgrind, $calls calls, kind $kind, window ${window_s} s, prefill $prefill)"
done
