#!/bin/bash
# The cost of the e-mail fan-out (NOTIFICATION_OUTBOX_INSERT, api/notify/outbox.h) in the feed
# append statement of api/feed.c, for a tenant without contacts: the statement with a warmed
# generic plan (as the server prepares it), EXPLAIN ANALYZE per kind of event. Usage:
#   make build/allied && bash scripts/bench_notify_fanout.sh
set -eu
top=$(pwd)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cat > "$work/print_sql.c" <<'C'
#include "api/notify/outbox.h"
#include "api/webhooks/webhooks.h"
#include <stdio.h>
int main(int argc, char **argv) {
    (void)argv;
    printf("%s\n", argc > 1 ? NOTIFICATION_OUTBOX_INSERT : WEBHOOK_OUTBOX_INSERT);
    return 0;
}
C
cc -I. -I/usr/include/postgresql -o "$work/print_sql" "$work/print_sql.c"
PG_NAME=bench . scripts/private_pg.sh
build/allied migrate >/dev/null 2>&1
T=$(build/allied tenant create --name bench | python3 -c 'import json,sys; print(json.load(sys.stdin)["tenant_id"])')
P=$(python3 -c 'import uuid; print(uuid.uuid4())')
psql -X -q -d "$DATABASE_URL" -c "INSERT INTO partners (tenant_id, id, name) VALUES ('$T', '$P', 'Pia')"
HEAD="WITH s AS (INSERT INTO feed_counters AS f (tenant_id, last_seq) VALUES (\$1, 1) ON CONFLICT (tenant_id) DO UPDATE SET last_seq = f.last_seq + 1 RETURNING last_seq), e AS (INSERT INTO feed_events (tenant_id, seq, type, resource_type, resource_id, partner_id, data) SELECT \$1, s.last_seq, \$2, \$3, \$4, \$5, \$6::json FROM s RETURNING seq, at) "
OLD="$HEAD$("$work/print_sql")"
NEW="${HEAD%?}, $("$work/print_sql" x)$("$work/print_sql")"
R=$(python3 -c 'import uuid; print(uuid.uuid4())')
echo "--- plan (generic), no contacts, referral.submitted"
Q=$(echo "$NEW" | sed "s/\\\$1/'$T'::uuid/g; s/\\\$2/'referral.submitted'::text/g; s/\\\$3/'referral'/g; s/\\\$4/'$R'::uuid/g; s/\\\$5/'$P'/g; s/\\\$6/'{}'/g")
psql -X -q -d "$DATABASE_URL" -c "BEGIN" -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) $Q" -c "ROLLBACK" | grep -v "^$" | grep -i -A3 "contacts\|Insert on notifications\|Execution\|Planning" | head -40
echo "--- warmed generic plan: the fan-out node's own time"
PT=$(echo "$NEW" | sed 's/\$1/$1::uuid/g; s/\$2/$2::text/g; s/\$5/$5::uuid/g')
for ty in referral.submitted referral.acknowledged agreement.created; do
  {
    echo "SET plan_cache_mode = force_generic_plan; SET synchronous_commit = off;"
    echo "PREPARE s(uuid, text, text, uuid, uuid, text) AS $NEW;"
    for i in $(seq 50); do echo "EXECUTE s('$T', '$ty', 'referral', '$R', '$P', '{}');"; done
    echo "BEGIN; EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING ON) EXECUTE s('$T', '$ty', 'referral', '$R', '$P', '{}'); ROLLBACK;"
  } > $work/warm.sql
  echo "== $ty"
  psql -X -q -d "$DATABASE_URL" -f $work/warm.sql | grep -E "Insert on notifications|Insert on webhook|contacts_partner|One-Time|Execution Time|Result \(" | sed 's/^ *//'
done
