#!/usr/bin/env bash
# Prints a DATABASE_URL for the test suite, starting or installing PostgreSQL
# when none is given. Sourced by scripts/test.sh; usable alone:
#   eval "$(scripts/postgres.sh)"
# Order: $DATABASE_URL if set; a server already answering on 127.0.0.1:5432
# as user postgres; else a private cluster under target/pgdata on port 54329
# (initdb/pg_ctl, installing Debian's postgresql package first if needed).
set -euo pipefail

if [[ -n "${DATABASE_URL:-}" ]]; then
  echo "export DATABASE_URL='$DATABASE_URL'"
  exit 0
fi

# TLS is pointless on loopback, and libpq's OpenSSL set-up would register an
# exit-time cleanup that races test servers' threads at process exit.
local_url="postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
if command -v psql >/dev/null 2>&1 && psql "$local_url" -Atqc 'select 1' >/dev/null 2>&1; then
  echo "export DATABASE_URL='$local_url'"
  exit 0
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
pgdata="$root/target/pgdata"
port=54329
private_url="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
bin=$(find_bin)
if [[ -z "$bin" ]]; then
  echo "scripts/postgres.sh: installing PostgreSQL from Debian's packages" >&2
  sudo_cmd=""
  [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq postgresql >&2
  bin=$(find_bin)
fi
[[ -n "$bin" ]] || { echo "scripts/postgres.sh: no PostgreSQL binaries found" >&2; exit 1; }

# initdb refuses to run as root: run the cluster as the postgres user when we are root.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || useradd --system --home "$pgdata" postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

if [[ ! -f "$pgdata/PG_VERSION" ]]; then
  mkdir -p "$pgdata"
  [[ $(id -u) -eq 0 ]] && chown postgres "$pgdata"
  as_owner "$bin/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 >&2
fi
if ! "$bin/pg_isready" -h 127.0.0.1 -p "$port" -q; then
  as_owner "$bin/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w \
    -o "-p $port -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >&2
fi
echo "export DATABASE_URL='$private_url'"
