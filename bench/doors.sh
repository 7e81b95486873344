#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The three doors side by side in one run, against one embedded sluice-server (demo policies scaled
# up so every check is admitted and written): POST /rate-limit/check with wrk, forward-auth through
# a real nginx (the shipped packaging/gateways/nginx-sluice.conf, auth_request) with wrk, and the
# gRPC rate limit service with build/bench/sluice-grpc-load. Prints checks/s, p50 and p99 per door,
# and sluice-server's CPU (user+sys, /proc) per check through each door.
# Usage: bench/doors.sh [--seconds N] [--connections N]
# Needs: a Release build in build/, wrk and nginx-light (sluice_install_deps --bench).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=10 conns=16
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) secs=$2; shift ;;
    --connections) conns=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
server="$root/build/server/sluice-server" load="$root/build/bench/sluice-grpc-load"
[ -x "$server" ] && [ -x "$load" ] || { echo "build first (scripts/test or scripts/run)" >&2; exit 1; }
work=$(mktemp -d) pids=()
cleanup() {
  trap '' INT TERM
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { bash "$root/scripts/lib/redis.sh" free-port; }
to_ms() { awk -v v="$1" 'BEGIN{ if (v ~ /us$/) {sub(/us/,"",v); print v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v); print v+0} else {sub(/s/,"",v); print v*1000} }'; }
wrk_line() { # door, wrk output file
  local rps p50 p99
  rps=$(awk '/^Requests\/sec/{printf "%.0f", $2}' "$2")
  p50=$(awk '$1=="50%"{print $2}' "$2"); p99=$(awk '$1=="99%"{print $2}' "$2")
  echo "door=$1 checks_per_s=$rps p50_ms=$(to_ms "$p50") p99_ms=$(to_ms "$p99") non_2xx=$(awk '/Non-2xx/{print $5}' "$2")"
}

# CPU seconds (user + sys) of a process so far, from /proc (clock ticks).
proc_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat"; }
cpu_line() { # door, cpu seconds before, checks
  awk -v d="$1" -v a="$2" -v b="$(proc_cpu "$server_pid")" -v n="$3" \
    'BEGIN { if (n > 0) printf "door=%s cpu sluice_server_us_per_check=%.1f (user+sys over %d checks)\n", d, (b - a) * 1e6 / n, n }'
}

sp=$(free_port) gp=$(free_port) np=$(free_port) up=$(free_port)
"$server" --bind 127.0.0.1 --port "$sp" --grpc-port "$gp" --registry-file "$root/bench/registry-bench.json" \
  --forward-auth-deny-status 403 >"$work/server.log" 2>&1 & pids+=($!)
server_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$sp/health" >/dev/null && break; sleep 0.1; done
sed -e "s/server 127.0.0.1:8000;/server 127.0.0.1:$sp;/" -e "s/server 127.0.0.1:9000;/server 127.0.0.1:$up;/" \
    -e "s/listen 127.0.0.1:8080;/listen 127.0.0.1:$np;/" "$root/packaging/gateways/nginx-sluice.conf" >"$work/sluice.conf"
cat >"$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/body; proxy_temp_path $work/proxy; fastcgi_temp_path $work/fcgi;
  uwsgi_temp_path $work/uwsgi; scgi_temp_path $work/scgi;
  server { listen 127.0.0.1:$up; location / { return 200 'ok'; } }
  include $work/sluice.conf;
}
CONF
nginx -p "$work" -c "$work/nginx.conf" -g 'daemon off;' & pids+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$np/" && break; sleep 0.1; done

echo "== $secs s per door, $conns connections (wrk 1 thread) / $conns calls in flight (gRPC); 2 cores shared by load and server"
requests() { awk '/requests in/ {print $1}' "$1"; }
before=$(proc_cpu "$server_pid")
wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$root/bench/check-post.lua" "http://127.0.0.1:$sp" >"$work/check.txt"
wrk_line http-check "$work/check.txt"
cpu_line http-check "$before" "$(requests "$work/check.txt")"
before=$(proc_cpu "$server_pid")
wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$root/bench/forward-auth.lua" "http://127.0.0.1:$np" >"$work/fa.txt"
wrk_line forward-auth-via-nginx "$work/fa.txt"
cpu_line forward-auth-via-nginx "$before" "$(requests "$work/fa.txt")"
before=$(proc_cpu "$server_pid")
"$load" "$gp" "$conns" "$secs" | tee "$work/grpc.txt"
cpu_line grpc "$before" "$(awk '{for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "ok" || kv[1] == "over_limit" || kv[1] == "errors") n += kv[2] }} END {print n + 0}' "$work/grpc.txt")"
