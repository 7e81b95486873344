#!/usr/bin/env bash
# HTTP benchmark of POST /rate-limit/check: starts sluice-server (embedded, --redis or
# --redis-cluster) on a free loopback port with the demo policies scaled up (every check admitted
# and written), drives it with wrk and the anchors' check-post.lua, then runs the anchors
# (nginx limit_req, the seed FastAPI design) in the same run and prints the ratios; nginx is run
# twice more for its worker's CPU: with the anchors' answer, and answering this server's own answer
# (its headers and body), so that what the answer's bytes cost shows apart from the server's work.
# Usage: bench/http-check.sh [--redis|--redis-cluster] [--seconds N] [--connections N] [--threads N]
#        [--server-threads N] [--no-anchors] [--lifecycle] [--redis-batch N] [--paced-rate R] [--rate-runs N]
# --lifecycle: a tokens and a concurrency policy apply next to the demo ones, and every admitted
# check is completed (bench/lifecycle.lua); figures are per check and per completion.
# --redis-batch N: the server's --redis-batch (1: no batching, to compare).
# With Redis, also: Redis process CPU per check at saturation (INFO cpu user+sys delta over the
# checks), bytes per logged request (MEMORY USAGE of the fullest log over its entries), and with
# the anchors the seeds' stack's CPU per request (its app and its Redis) beside the server's and
# Redis's (issue 24's "server + Redis <= 1/12 of the seeds' stack").
# Every mode but --lifecycle then runs --paced-rate checks/s (default 10000) open loop for its
# latency percentiles, --rate-runs times (default 3), and prints each run's p99 and their median.
# Needs: a Release build in build/ (scripts/test or scripts/run make one); wrk, nginx-light,
# python3-fastapi, uvicorn, python3-redis for the anchors (source scripts/lib/deps.sh;
# sluice_install_deps --bench).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
anchors="$root/../shared/anchors"
mode=embedded secs=10 conns=16 wthreads=1 sthreads="" run_anchors=1 lifecycle=0 batch="" paced_rate=10000 rate_runs=3
while [ $# -gt 0 ]; do
  case "$1" in
    --redis) mode=redis ;;
    --redis-cluster) mode=cluster ;;
    --seconds) secs=$2; shift ;;
    --connections) conns=$2; shift ;;
    --threads) wthreads=$2; shift ;;
    --server-threads) sthreads=$2; shift ;;
    --no-anchors) run_anchors=0 ;;
    --lifecycle) lifecycle=1 ;;
    --redis-batch) batch=$2; shift ;;
    --paced-rate) paced_rate=$2; shift ;;
    --rate-runs) rate_runs=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
server="$root/build/server/sluice-server"
[ -x "$server" ] || { echo "build first: $server is missing" >&2; exit 1; }
lua="$anchors/check-post.lua"
[ -f "$lua" ] || lua="$root/bench/check-post.lua"
work=$(mktemp -d)
pids=()
cleanup() {
  trap '' INT TERM
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -f "$work/redis/redis.pid" ] && bash "$root/scripts/lib/redis.sh" stop "$work/redis" || true
  [ -f "$work/seeds-redis/redis.pid" ] && bash "$root/scripts/lib/redis.sh" stop "$work/seeds-redis" || true
  [ -d "$work/cluster" ] && bash "$root/scripts/lib/redis-cluster.sh" stop "$work/cluster" || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { bash "$root/scripts/lib/redis.sh" free-port; }
to_ms() { awk -v v="$1" 'BEGIN{ if (v ~ /us$/) {sub(/us/,"",v); print v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v); print v+0} else {sub(/s/,"",v); print v*1000} }'; }

registry="$root/bench/registry-bench.json"
if [ "$lifecycle" = 1 ]; then registry="$root/bench/registry-bench-units.json"; lua="$root/bench/lifecycle.lua"; fi
args=(--bind 127.0.0.1 --registry-file "$registry")
[ -n "$sthreads" ] && args+=(--threads "$sthreads")
[ -n "$batch" ] && args+=(--redis-batch "$batch")
redis_ports=()
case "$mode" in
  redis)
    rp=$(free_port); bash "$root/scripts/lib/redis.sh" start "$work/redis" "$rp"
    redis_ports=("$rp"); args+=(--redis "redis://127.0.0.1:$rp") ;;
  cluster)
    p1=$(free_port); p2=$(free_port); p3=$(free_port)
    bash "$root/scripts/lib/redis-cluster.sh" start "$work/cluster" "$p1" "$p2" "$p3"
    redis_ports=("$p1" "$p2" "$p3"); args+=(--redis-cluster "127.0.0.1:$p1,127.0.0.1:$p2,127.0.0.1:$p3") ;;
esac
sp=$(free_port)
"$server" "${args[@]}" --port "$sp" >"$work/server.log" 2>&1 & pids+=($!)
server_pid=$!
up=0
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$sp) 2>/dev/null && { up=1; break; }; sleep 0.1; done
[ $up = 1 ] || { echo "sluice-server did not start:" >&2; cat "$work/server.log" >&2; exit 1; }
# Script calls and their microseconds in Redis (INFO commandstats, every node), since RESETSTAT.
redis_script_stats() {
  local calls=0 usec=0 p l c u
  for p in "${redis_ports[@]}"; do
    while IFS= read -r l; do
      [ -z "$l" ] && continue
      c=$(sed -E 's/^[^:]*:calls=([0-9]+),.*/\1/' <<<"$l"); u=$(sed -E 's/^[^:]*:calls=[0-9]+,usec=([0-9]+),.*/\1/' <<<"$l")
      calls=$((calls + c)); usec=$((usec + u))
    done < <(redis-cli -p "$p" INFO commandstats | tr -d '\r' | grep -E '^cmdstat_(evalsha|eval):' || true)
  done
  echo "$calls $usec"
}
# Redis process CPU seconds so far (user + sys, every node).
redis_cpu() {
  local p t=0
  for p in "${redis_ports[@]}"; do
    t=$(redis-cli -p "$p" INFO cpu | tr -d '\r' | awk -F: -v t="$t" '$1=="used_cpu_user"||$1=="used_cpu_sys"{t+=$2} END{printf "%.6f", t}')
  done
  echo "$t"
}
reset_redis_stats() { local p; for p in "${redis_ports[@]:-}"; do if [ -n "$p" ]; then redis-cli -p "$p" CONFIG RESETSTAT >/dev/null; fi; done; }
checks_so_far() { curl -s "http://127.0.0.1:$sp/metrics" | awk '/^sluice_decisions_total/{s+=$2} END{print int(s)}'; }
has_redis=0; [ ${#redis_ports[@]} -gt 0 ] && [ -n "${redis_ports[0]}" ] && has_redis=1

per_check_us=""
if [ "$lifecycle" = 1 ] && [ "$has_redis" = 1 ]; then
  # Phase A prices a check alone (reserving, never completing): Redis µs per script call.
  reset_redis_stats
  SLUICE_BENCH_COMPLETE=0 wrk -t"$wthreads" -c"$conns" -d"$(( (secs + 1) / 2 ))s" -s "$lua" "http://127.0.0.1:$sp" >/dev/null
  read -r acalls ausec < <(redis_script_stats)
  per_check_us=$(awk -v u=$ausec -v c=$acalls 'BEGIN{ if (c>0) printf "%.2f", u/c; else print 0}')
  echo "redis lifecycle phase=checks-only script_calls=$acalls redis_cpu_us_per_check=$per_check_us"
fi
reset_redis_stats
before=$(checks_so_far)
cpu_before=$( [ "$has_redis" = 1 ] && redis_cpu || echo 0)
# CPU seconds (user + sys) of a process so far, from /proc (clock ticks).
proc_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat"; }
server_cpu0=$(proc_cpu "$server_pid")
TIMEFORMAT='%U %S'
{ time wrk -t"$wthreads" -c"$conns" -d"${secs}s" -s "$lua" --latency "http://127.0.0.1:$sp" >"$work/wrk.out" 2>"$work/wrk.err"; } 2>"$work/wrk.time"
cat "$work/wrk.err" >&2
out=$(cat "$work/wrk.out")
server_cpu1=$(proc_cpu "$server_pid")
rps=$(awk '/Requests\/sec/{print int($2)}' <<<"$out")
p50=$(to_ms "$(awk '$1=="50%"{print $2}' <<<"$out")"); p99=$(to_ms "$(awk '$1=="99%"{print $2}' <<<"$out")")
non2xx=$(awk '/Non-2xx/{print $5}' <<<"$out"); errors=$(awk '/Socket errors/{print $0}' <<<"$out")
total=$(awk '/requests in/{print $1}' <<<"$out")
if [ "$lifecycle" = 1 ]; then
  # wrk counts requests of both kinds: the server's metrics say how many were checks.
  checks_done=$(( $(checks_so_far) - before )); completions=$((total - checks_done))
  echo "sluice mode=$mode lifecycle requests_per_s=$rps checks=$checks_done completions=$completions p50_ms=$p50 p99_ms=$p99 non_2xx=${non2xx:-0} ${errors}"
  echo "sluice mode=$mode lifecycle checks_per_s=$(awk -v c=$checks_done -v s=$secs 'BEGIN{print int(c/s)}') (each one completed)"
  rps=$(awk -v c=$checks_done -v s=$secs 'BEGIN{print int(c/s)}')
else
  echo "sluice mode=$mode checks_per_s=$rps p50_ms=$p50 p99_ms=$p99 non_2xx=${non2xx:-0} ${errors}"
fi
# Where the two cores went, per request: the server process, and wrk (load and server share the
# machine, so a check's price is what all of them spend on it; Redis's share is printed below).
read -r wu ws < <(tail -n1 "$work/wrk.time")
server_per_request=$(awk -v a="$server_cpu1" -v b="$server_cpu0" -v n="$total" 'BEGIN{printf "%.1f", (a-b)*1e6/n}')
echo "cpu sluice_server_us_per_request=$server_per_request wrk_us_per_request=$(awk -v u="$wu" -v s="$ws" -v n="$total" 'BEGIN{printf "%.1f", (u+s)*1e6/n}') (user+sys over $total requests)"

if [ "$has_redis" = 1 ]; then
  cpu_after=$(redis_cpu)
  read -r calls usec < <(redis_script_stats)
  checks=${checks_done:-$total}
  redis_per_check=$(awk -v a=$cpu_after -v b=$cpu_before -v n=$checks 'BEGIN{ if (n>0) printf "%.2f", (a-b)*1e6/n; else print "n/a"}')
  echo "redis process_cpu_us_per_check=$redis_per_check (INFO cpu user+sys delta over $checks checks; includes the network) checks_per_script_call=$(awk -v c=$calls -v n=$checks 'BEGIN{ if (c>0) printf "%.1f", n/c; else print "n/a"}')"
  echo "redis script_calls=$calls redis_cpu_us_per_script_call=$(awk -v u=$usec -v c=$calls 'BEGIN{ if (c>0) printf "%.2f", u/c; else print "n/a"}') script_calls_per_check=$(awk -v c=$calls -v n=$checks 'BEGIN{ if (n>0) printf "%.2f", c/n; else print "n/a"}')"
  if [ -n "$per_check_us" ] && [ "${completions:-0}" -gt 0 ]; then
    echo "redis lifecycle redis_cpu_us_per_completion=$(awk -v u=$usec -v n=$checks -v pc=$per_check_us -v k=$completions 'BEGIN{printf "%.2f", (u - n*pc)/k}') (script µs of the run minus its checks at the checks-only price, over its completions)"
  fi
  # Bytes per logged request: MEMORY USAGE of the fullest key over its entry count (the global
  # key holds every check).
  bkey=""; best=0
  for p in "${redis_ports[@]}"; do
    for k in 'sluice:{global}' $(redis-cli -p "$p" --scan --pattern 'sluice:*' | grep -v '#w$' | head -200); do
      case "$(redis-cli -p "$p" TYPE "$k")" in
        list) n=$(redis-cli -p "$p" LLEN "$k") ;;
        zset) n=$(redis-cli -p "$p" ZCARD "$k") ;;
        *) continue ;;
      esac
      if [ "$n" -gt "$best" ]; then best=$n; bkey="$k"; bport=$p; fi
    done
  done
  if [ -n "$bkey" ]; then
    mem=$(redis-cli -p "$bport" MEMORY USAGE "$bkey" SAMPLES 0)
    echo "redis fullest_key=$bkey entries=$best memory_bytes=$mem bytes_per_entry=$(awk -v m=$mem -v n=$best 'BEGIN{printf "%.1f", m/n}')"
  fi
fi

if [ "$lifecycle" = 0 ]; then
  # Latency at a set rate below saturation, open loop (sluice-http-rate): request k is due at
  # k / --paced-rate s and its latency counts from then, also when it had to wait for one of the 32
  # connections (wrk's closed loop would hide that, and its paced runs send in bursts).
  rate_tool="$root/build/bench/sluice-http-rate"
  # --rate-runs runs (default 3): on a shared 2-core machine one run's p99 moves with its neighbours.
  if [ -x "$rate_tool" ]; then
    p99s=()
    for r in $(seq "$rate_runs"); do
      pout=$("$rate_tool" "$sp" "$paced_rate" "$secs" 32) || true
      echo "sluice mode=$mode at_rate run=$r $pout"
      p=$(sed -nE 's/.* p99_ms=([0-9.]+) .*/\1/p' <<<"$pout")
      [ -n "$p" ] && p99s+=("$p")
    done
    [ ${#p99s[@]} -gt 0 ] || p99s=(n/a)
    echo "sluice mode=$mode at_rate=$paced_rate p99_ms of the $rate_runs runs: ${p99s[*]} (median $(printf '%s\n' "${p99s[@]}" | sort -g | awk '{a[NR]=$1} END{print a[int(NR/2)+1]}'))"
  else
    echo "sluice mode=$mode at_rate: $rate_tool is missing (build first)"
  fi
fi

if [ "$run_anchors" = 1 ]; then
  if [ ! -f "$anchors/run-anchors.sh" ]; then echo "anchors not found at $anchors: skipping the comparison"; exit 0; fi
  aout=$(bash "$anchors/run-anchors.sh" "$secs" "$conns" "$wthreads")
  echo "$aout"
  nginx=$(awk '/anchor nginx-limit-req/{split($3,a,"="); print a[2]}' <<<"$aout")
  seeds=$(awk '/anchor seeds-fastapi/{split($3,a,"="); print a[2]}' <<<"$aout")
  echo "ratio sluice/nginx-limit-req=$(awk -v a=$rps -v b=$nginx 'BEGIN{printf "%.2f", a/b}') sluice/seeds-fastapi=$(awk -v a=$rps -v b=$seeds 'BEGIN{printf "%.1f", a/b}')"
  # The CPU side of the comparison: nginx's worker (the anchors' configuration, the same wrk load),
  # user+sys per request from /proc, as for the server above. Then the same nginx answering with
  # this server's own answer (its headers and its ~1.4 KB JSON body, captured below):
  # what the answer's bytes cost nginx's worker and wrk, which bounds the checks/s comparison.
  # nginx_cpu NAME CONF: starts nginx with CONF and prints its line; sets nginx_us.
  nginx_cpu() {
    local name=$1 conf=$2 dir np worker ncpu0 ncpu1 nout ntotal nwu nws
    dir=$(dirname "$conf"); np=$(free_port)
    sed -i "s|@PORT@|$np|g" "$conf"
    nginx -c "$conf" -p "$dir" & pids+=($!)
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$np") 2>/dev/null && break; sleep 0.1; done
    worker=$(pgrep -P "$(cat "$dir/nginx.pid")" | head -1)
    ncpu0=$(proc_cpu "$worker")
    { time wrk -t"$wthreads" -c"$conns" -d"${secs}s" -s "$lua" "http://127.0.0.1:$np/rate-limit/check" >"$dir/wrk.out"; } 2>"$dir/wrk.time"
    nout=$(cat "$dir/wrk.out")
    ncpu1=$(proc_cpu "$worker")
    ntotal=$(awk '/requests in/{print $1}' <<<"$nout"); nginx_rps=$(awk '/Requests\/sec/{print int($2)}' <<<"$nout")
    nginx_us=$(awk -v a="$ncpu1" -v b="$ncpu0" -v n="$ntotal" 'BEGIN{printf "%.1f", (a-b)*1e6/n}')
    # (wrk's own CPU per request too: one wrk thread near a whole core bounds checks/s for any server)
    read -r nwu nws < <(tail -n1 "$dir/wrk.time")
    echo "anchor $name cpu worker_us_per_request=$nginx_us wrk_us_per_request=$(awk -v u="$nwu" -v s="$nws" -v n="$ntotal" 'BEGIN{printf "%.1f", (u+s)*1e6/n}') checks_per_s=$nginx_rps answer_bytes=$(curl -s -i -X POST --data '{}' "http://127.0.0.1:$np/rate-limit/check" | wc -c) (user+sys over $ntotal requests)"
  }
  if [ -f "$anchors/nginx-limit-req.conf.in" ] && command -v nginx >/dev/null; then
    mkdir -p "$work/nginx"
    sed -e "s|@DIR@|$work/nginx|g" "$anchors/nginx-limit-req.conf.in" > "$work/nginx/nginx.conf"
    nginx_cpu nginx-limit-req "$work/nginx/nginx.conf"
    echo "ratio cpu sluice_server/nginx_worker=$(awk -v a="$server_per_request" -v b="$nginx_us" 'BEGIN{printf "%.2f", a/b}')"
    # This server's answer to the load's first request: its headers but those nginx sets itself
    # (Server, Date, Content-Type, Content-Length, Connection) become add_header lines, its body
    # the text nginx returns (skipped if it holds a character nginx's quoting would change).
    mkdir -p "$work/nginx-same"
    if [ "$lifecycle" = 0 ] && curl -s -D "$work/nginx-same/head" -o "$work/nginx-same/body" -H 'Content-Type: application/json' \
         --data '{"userId":"u1","modelId":"gpt-4o","tenantId":"enterprise_co","modelTier":"premium"}' "http://127.0.0.1:$sp/rate-limit/check" &&
       ! grep -q "[$'\\]" "$work/nginx-same/head" "$work/nginx-same/body"; then
      tr -d '\r' <"$work/nginx-same/head" | awk 'NR > 1 && index($0, ": ") > 0 {
          name = substr($0, 1, index($0, ": ") - 1)
          if (tolower(name) !~ /^(server|date|content-type|content-length|connection)$/)
            printf "      add_header %s \047%s\047 always;\n", name, substr($0, length(name) + 3) }' >"$work/nginx-same/add_header"
      awk -v headers="$work/nginx-same/add_header" -v body="$work/nginx-same/body" '
          /return 200/ { while ((getline l < headers) > 0) print l; getline b < body; print "      return 200 \047" b "\047;"; next }
          { print }' "$anchors/nginx-limit-req.conf.in" | sed -e "s|@DIR@|$work/nginx-same|g" >"$work/nginx-same/nginx.conf"
      nginx_cpu nginx-same-answer "$work/nginx-same/nginx.conf"
      echo "ratio sluice/nginx-same-answer checks_per_s=$(awk -v a="$rps" -v b="$nginx_rps" 'BEGIN{printf "%.2f", a/b}') cpu=$(awk -v a="$server_per_request" -v b="$nginx_us" 'BEGIN{printf "%.2f", a/b}')"
    fi
  fi
  # With Redis, the other side of the comparison: the seeds' stack (FastAPI under uvicorn, one
  # worker, and its own redis-server, as run-anchors.sh starts them) under the same wrk load, its
  # two processes' user+sys per request from /proc, beside the server's and Redis's above.
  if [ "$mode" = redis ] && [ -f "$anchors/seed-fastapi/app.py" ] && command -v uvicorn >/dev/null; then
    srp=$(free_port); sup=$(free_port)
    bash "$root/scripts/lib/redis.sh" start "$work/seeds-redis" "$srp"
    (cd "$anchors/seed-fastapi" && REDIS_PORT=$srp LIMIT_SCALE=1000000 exec uvicorn app:app --host 127.0.0.1 --port "$sup" --log-level warning) &
    pids+=($!); app=$!
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$sup") 2>/dev/null && break; sleep 0.1; done
    srpid=$(cat "$work/seeds-redis/redis.pid")
    wrk -t"$wthreads" -c"$conns" -d1s -s "$lua" "http://127.0.0.1:$sup/rate-limit/check" >/dev/null # (warm)
    acpu0=$(proc_cpu "$app"); rcpu0=$(proc_cpu "$srpid")
    sout=$(wrk -t"$wthreads" -c"$conns" -d"${secs}s" -s "$lua" "http://127.0.0.1:$sup/rate-limit/check")
    acpu1=$(proc_cpu "$app"); rcpu1=$(proc_cpu "$srpid")
    stotal=$(awk '/requests in/{print $1}' <<<"$sout")
    sapp=$(awk -v a="$acpu1" -v b="$acpu0" -v n="$stotal" 'BEGIN{printf "%.1f", (a-b)*1e6/n}')
    sredis=$(awk -v a="$rcpu1" -v b="$rcpu0" -v n="$stotal" 'BEGIN{printf "%.1f", (a-b)*1e6/n}')
    ssum=$(awk -v a="$sapp" -v b="$sredis" 'BEGIN{printf "%.1f", a+b}')
    echo "anchor seeds-fastapi cpu app_us_per_request=$sapp redis_us_per_request=$sredis sum=$ssum (user+sys over $stotal requests)"
    oursum=$(awk -v a="$server_per_request" -v r="$redis_per_check" 'BEGIN{printf "%.1f", a + r}')
    echo "ratio cpu (sluice_server+redis)/(seeds_app+redis)=$oursum/$ssum=1/$(awk -v a="$oursum" -v b="$ssum" 'BEGIN{printf "%.1f", b/a}')"
  fi
fi
