#!/usr/bin/env bash
# Start or stop a throwaway PostgreSQL cluster for development, tests and CI.
#
#   deploy/local-postgres.sh start DIR [PORT]   # prints a libpq URL on stdout
#   deploy/local-postgres.sh stop DIR
#
# Uses the installed server binaries (Debian: apt-get install postgresql). initdb refuses to run as
# root, so as root the cluster is owned by the `postgres` OS user; otherwise by the current user.
# The server listens on 127.0.0.1 only, with a socket in DIR. Database: rlhf, user: rlhf (trust auth).
set -euo pipefail

usage() { echo "usage: $0 start DIR [PORT] | stop DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1; dir=$2; port=${3:-5432}

bindir=""
for c in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r) ; do bindir=$c; break; done
if [ -z "$bindir" ]; then
  if command -v pg_ctl >/dev/null 2>&1; then bindir=$(dirname "$(command -v pg_ctl)"); else
    echo "error: PostgreSQL server binaries not found. Install them: apt-get install postgresql" >&2; exit 1
  fi
fi

as_owner() {
  if [ "$(id -u)" = 0 ]; then
    su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
  else
    "$@"
  fi
}

case "$cmd" in
start)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$dir"
    # Let the postgres user reach the directory through its parents.
    p="$dir"; while [ "$p" != "/" ]; do p=$(dirname "$p"); chmod o+x "$p" 2>/dev/null || true; done
  fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_owner "$bindir/initdb" -D "$dir/data" -U rlhf --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { echo "error: initdb failed; see $dir/initdb.log" >&2; cat "$dir/initdb.log" >&2; exit 1; }
  fi
  if as_owner "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    echo "note: a server for $dir is already running; reusing it" >&2
  else
  as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null \
    || { echo "error: the server did not start; see $dir/server.log" >&2; tail -20 "$dir/server.log" >&2; exit 1; }
  fi
  for _ in $(seq 1 60); do
    "$bindir/pg_isready" -h 127.0.0.1 -p "$port" -q && break
    sleep 0.5
  done
  "$bindir/psql" -h 127.0.0.1 -p "$port" -U rlhf -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='rlhf'" | grep -q 1 \
    || "$bindir/createdb" -h 127.0.0.1 -p "$port" -U rlhf rlhf
  echo "postgresql://rlhf@127.0.0.1:$port/rlhf"
  ;;
stop)
  [ -d "$dir/data" ] || { echo "no cluster in $dir" >&2; exit 0; }
  as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
  ;;
*) usage ;;
esac
