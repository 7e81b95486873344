#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A throwaway Postgres 15 on 127.0.0.1 in a directory of its own (tests, scripts/run --full).
# Postgres refuses to run as root: as root it runs as the `postgres` system user of Debian's package.
#   postgres.sh start <dir> <port>      prints the libpq conninfo of database `sluice`
#   postgres.sh stop <dir>
#   postgres.sh migrate <conninfo>      applies migrations/*.sql in name order
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=/usr/lib/postgresql/15/bin
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
  start)
    dir=$2 port=$3
    mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
    data="$dir/data"
    if [ "$(id -u)" = 0 ]; then
      chown postgres:postgres "$dir"
      # every parent must be traversable by the postgres user (mktemp -d makes 0700 dirs)
      d=$dir; while [ "$d" != / ]; do d=$(dirname "$d"); [ -d "$d" ] && chmod o+x "$d" 2>/dev/null || true; done
    fi
    if [ ! -f "$data/PG_VERSION" ]; then
      as_owner "$bin/initdb" -D "$data" -A trust -U sluice -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    as_owner "$bin/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c dynamic_shared_memory_type=mmap" \
      start >/dev/null || { tail -20 "$dir/postgres.log" >&2; exit 1; }
    if ! psql -h 127.0.0.1 -p "$port" -U sluice -d postgres -Atc "select 1 from pg_database where datname='sluice'" | grep -q 1; then
      psql -h 127.0.0.1 -p "$port" -U sluice -d postgres -qc "create database sluice" >/dev/null
    fi
    echo "host=127.0.0.1 port=$port dbname=sluice user=sluice" ;;
  stop)
    dir=$2
    [ -f "$dir/data/postmaster.pid" ] || exit 0
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null ;;
  migrate)
    conninfo=$2
    shopt -s nullglob
    for f in "$root"/migrations/*.sql; do
      PGOPTIONS='-c client_min_messages=warning' psql "$conninfo" -v ON_ERROR_STOP=1 -q -f "$f" >/dev/null
    done ;;
  *) echo "usage: $0 start <dir> <port> | stop <dir> | migrate <conninfo>" >&2; exit 2 ;;
esac
