#!/bin/sh
# `make run`: a private PostgreSQL cluster under .pg/run (kept between runs) unless DATABASE_URL is
# set, migrations, a demo tenant with a fresh admin key, then the server in the foreground.
set -eu
BUILD=${BUILD:-build}
if [ -z "${DATABASE_URL:-}" ]; then
  DATABASE_URL=$(sh scripts/pg.sh start "$(pwd)/.pg/run")
  echo "PostgreSQL: private cluster in .pg/run (stop it with: sh scripts/pg.sh stop .pg/run)"
fi
export DATABASE_URL
"$BUILD/allied" migrate
state=.pg/run-demo-tenant
mkdir -p .pg
if [ -s "$state" ] && out=$("$BUILD/allied" key create --tenant "$(cat "$state")" --role admin --name "make run" 2>/dev/null); then
  key=$(printf '%s' "$out" | sed -n 's/.*"key": "\(.*\)".*/\1/p')
else
  out=$("$BUILD/allied" tenant create --name demo)
  printf '%s' "$out" | sed -n 's/.*"tenant_id": "\(.*\)".*/\1/p' > "$state"
  key=$(printf '%s' "$out" | sed -n 's/.*"key": "\(.*\)".*/\1/p')
fi
listen=${ALLIED_LISTEN:-127.0.0.1:8080}
cat <<TXT

Demo tenant $(cat "$state")
API key (admin, shown once): $key

Try:
  curl -s -X POST http://$listen/v1/partners -H "Authorization: Bearer $key" \\
       -H 'Content-Type: application/json' -d '{"name":"Ada Lovelace","company":"Analytical Ltd"}'
  curl -s http://$listen/v1/partners -H "Authorization: Bearer $key"

Serving on http://$listen (Ctrl-C stops).
TXT
exec "$BUILD/allied" serve
