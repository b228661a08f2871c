# Sourced by the scripts that need a database (test.sh, bench.sh): unless DATABASE_URL is set,
# starts a throwaway PostgreSQL cluster for this run in .pg/$PG_NAME-<pid>, removed on exit, and
# exports DATABASE_URL (and ALLIED_TEST_PGDIR, the cluster's folder, for tests that restart it).
if [ -z "${DATABASE_URL:-}" ]; then
  pgdir="$top/.pg/$PG_NAME-$$"
  cleanup() { sh "$top/scripts/pg.sh" stop "$pgdir"; rm -rf "$pgdir"; }
  trap cleanup EXIT INT TERM
  DATABASE_URL=$(sh "$top/scripts/pg.sh" start "$pgdir")
  export ALLIED_TEST_PGDIR="$pgdir"
fi
export DATABASE_URL
