#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 with a database
# the tests can use, installing and starting it on Debian when it is missing.
# Prints the connection URL for CCM_TEST_POSTGRES on its last line.
set -euo pipefail

host=127.0.0.1 port=5432 db=test
url="postgres://postgres:postgres@${host}:${port}/${db}?sslmode=disable"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "ensure-postgres: need root (or sudo) to $*" >&2; return 1; fi
}
as_postgres() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sudo -u postgres sh -c "$*"; fi
}
ready() { pg_isready -q -h "$host" -p "$port" 2>/dev/null; }

if ! command -v pg_isready >/dev/null 2>&1; then
  echo "ensure-postgres: installing PostgreSQL from Debian's packages" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi

if ! ready; then
  echo "ensure-postgres: starting PostgreSQL" >&2
  for v in $(ls /etc/postgresql 2>/dev/null); do
    as_root pg_ctlcluster --skip-systemctl-redirect "$v" main start >&2 || true
  done
  for _ in $(seq 1 30); do ready && break; sleep 1; done
fi
ready || { echo "ensure-postgres: PostgreSQL does not answer on ${host}:${port}" >&2; exit 1; }

# A fresh install authenticates local TCP users by password: give the
# postgres role the password the URL carries (ignored where auth is trust),
# and create the test database if it is missing.
if ! PGPASSWORD=postgres psql -h "$host" -p "$port" -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
  as_postgres "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\"" >&2
fi
if ! PGPASSWORD=postgres psql -h "$host" -p "$port" -U postgres -d postgres -Atqc "select 1 from pg_database where datname='${db}'" | grep -q 1; then
  PGPASSWORD=postgres createdb -h "$host" -p "$port" -U postgres "$db"
fi
echo "$url"
