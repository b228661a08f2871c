#!/bin/sh
# Private PostgreSQL cluster under the project folder.
#   pg.sh start DIR   -> initialises (once) and starts a cluster in DIR, prints its DATABASE_URL
#   pg.sh stop DIR    -> stops it (fast mode)
#   pg.sh url DIR     -> prints its DATABASE_URL
# PG_STAT_STATEMENTS=1 (opt-in; `make bench` sets it) preloads pg_stat_statements in a new cluster.
# PostgreSQL refuses to run as root, so as root the cluster runs as user "postgres" (created if absent).
set -eu
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
cmd=$1; dir=$(mkdir -p "$2" && cd "$2" && pwd)
data="$dir/data"; sock="$dir/sock"
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  as() { su -s /bin/sh postgres -c "$*"; }
else
  as() { sh -c "$*"; }
fi
url() { echo "postgresql:///allied?host=$sock&user=allied"; }
case "$cmd" in
start)
  mkdir -p "$sock"
  [ "$(id -u)" -eq 0 ] && chown postgres "$dir" "$sock"
  if [ ! -f "$data/PG_VERSION" ]; then
    as "'$PGBIN/initdb' -D '$data' -U allied -A trust -E UTF8 --locale=C.UTF-8 >'$dir/initdb.log' 2>&1"
    cat >>"$data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$sock'
max_connections = 200
shared_buffers = 256MB
fsync = on
synchronous_commit = on
log_min_messages = warning
CONF
    if [ "${PG_STAT_STATEMENTS:-0}" = 1 ]; then
      cat >>"$data/postgresql.conf" <<CONF
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = top
CONF
    fi
  fi
  if ! as "'$PGBIN/pg_ctl' -D '$data' status" >/dev/null 2>&1; then
    as "'$PGBIN/pg_ctl' -D '$data' -l '$dir/postgres.log' -w -t 60 start" >/dev/null
  fi
  as "'$PGBIN/psql' -h '$sock' -U allied -d postgres -Atqc \"SELECT 1 FROM pg_database WHERE datname='allied'\"" | grep -q 1 ||
    as "'$PGBIN/createdb' -h '$sock' -U allied allied"
  url ;;
stop)
  as "'$PGBIN/pg_ctl' -D '$data' -m fast -w stop" >/dev/null 2>&1 || true ;;
url) url ;;
*) echo "usage: pg.sh start|stop|url DIR" >&2; exit 2 ;;
esac
