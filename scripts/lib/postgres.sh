#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A throwaway Postgres 15 on 127.0.0.1 in a directory of its own (tests, scripts/run --full).
# Postgres refuses to run as root: as root it runs as the `postgres` system user of Debian's package
# (which then owns <dir>; every parent of <dir> is made traversable for it).
#   postgres.sh start <dir> <port>      prints one line: the libpq conninfo of database `sluice`
#   postgres.sh stop <dir>
#   postgres.sh migrate <conninfo> [--demo]  applies migrations/*.sql in name order with psql (each
#                                       records its version), then examples/demo-seed.sql with --demo
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=/usr/lib/postgresql/15/bin
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
# As root: the postgres user must reach <dir> (mktemp -d makes 0700 directories; a chroot's / may be
# 0700 too). Walks down from / and adds o+x only where the postgres user cannot pass.
make_reachable() {
  local d="" part parts
  runuser -u postgres -- test -x / 2>/dev/null || chmod o+x /
  IFS=/ read -ra parts <<<"$1"
  for part in "${parts[@]}"; do
    [ -n "$part" ] || continue
    d="$d/$part"
    runuser -u postgres -- test -x "$d" 2>/dev/null || chmod o+x "$d"
  done
}

case "${1:-}" in
  start)
    [ $# -ge 3 ] || { echo "usage: $0 start <dir> <port>" >&2; exit 2; }
    dir=$2 port=$3
    [ -x "$bin/initdb" ] || { echo "postgres.sh: $bin/initdb not found (install postgresql)" >&2; exit 1; }
    mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
    data="$dir/data"
    if [ "$(id -u)" = 0 ]; then
      chown postgres:postgres "$dir"
      [ -d "$data" ] && chown -R postgres:postgres "$data"
      make_reachable "$dir"
    fi
    cd "$dir" # a working directory the server's user can read (not root's home)
    if [ ! -f "$data/PG_VERSION" ]; then
      as_owner "$bin/initdb" -D "$data" -A trust -U sluice -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    # mmap dynamic shared memory: a chroot or container may have no usable /dev/shm.
    as_owner "$bin/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='$dir' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c dynamic_shared_memory_type=mmap" \
      start >/dev/null || { tail -20 "$dir/postgres.log" >&2; exit 1; }
    q() { psql -X -h 127.0.0.1 -p "$port" -U sluice -d postgres -v ON_ERROR_STOP=1 -Atqc "$1"; }
    if [ "$(q "select count(*) from pg_database where datname = 'sluice'")" != 1 ]; then
      q "create database sluice" >/dev/null || { as_owner "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true; exit 1; }
    fi
    echo "host=127.0.0.1 port=$port dbname=sluice user=sluice" ;;
  stop)
    [ $# -ge 2 ] || { echo "usage: $0 stop <dir>" >&2; exit 2; }
    [ -d "$2" ] || exit 0
    dir=$(cd "$2" && pwd)
    [ -f "$dir/data/postmaster.pid" ] || exit 0
    cd "$dir"
    as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1 || exit 0 # a stale pid file
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null ;;
  migrate)
    [ $# -ge 2 ] || { echo "usage: $0 migrate <conninfo> [--demo]" >&2; exit 2; }
    conninfo=$2
    shopt -s nullglob
    files=("$root"/migrations/*.sql)
    [ "${3:-}" = --demo ] && files+=("$root/examples/demo-seed.sql")
    for f in "${files[@]}"; do
      PGOPTIONS='-c client_min_messages=warning' psql -X "$conninfo" -v ON_ERROR_STOP=1 -q -1 -f "$f" >/dev/null
    done ;;
  *) echo "usage: $0 start <dir> <port> | stop <dir> | migrate <conninfo> [--demo]" >&2; exit 2 ;;
esac
