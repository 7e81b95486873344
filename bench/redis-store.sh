#!/usr/bin/env bash
# Redis at saturation without HTTP (bench_redis.cpp): a throwaway redis-server on loopback, the
# real RedisWindowStore batched (--redis-batch default 64) and unbatched (1), same run.
# Usage: bench/redis-store.sh [--seconds N]      Needs a Release build in build/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=10
[ "${1:-}" = --seconds ] && secs=$2
bin="$root/build/bench/sluice-bench-redis"
[ -x "$bin" ] || { echo "build first: $bin is missing" >&2; exit 1; }
work=$(mktemp -d)
trap 'bash "$root/scripts/lib/redis.sh" stop "$work/redis" || true; rm -rf "$work"' EXIT
port=$(bash "$root/scripts/lib/redis.sh" free-port)
bash "$root/scripts/lib/redis.sh" start "$work/redis" "$port"
for batch in 64 1; do
  redis-cli -p "$port" FLUSHALL >/dev/null
  "$bin" "$port" --seconds "$secs" --batch "$batch"
done
