"""THE MIRRORED SQL: what the server sends to PostgreSQL for each benchmarked request, statement
for statement, so pgbench can run the same work with no HTTP, no C and no JSON in between.

This is the one place to update when the request path changes (key cache, pipelining, ...).
Each statement is the server's text copied verbatim from its DB_STMT (file named beside it),
with a map from each $n to what pgbench sends instead:
  ":name"   a pgbench variable (bench.py passes them with -D or a \\gset sets them), sent as a
            parameter exactly like the server's (pgbench -M prepared);
  "NULL"    where the server sends a NULL parameter (pgbench cannot pass NULL as a variable);
  "'lit'"   or an SQL expression where the server sends a value it computed in C (a fresh id, an
            e-mail key), so the statement count stays the same.
The bench prints each route's statements per request as measured on the server
(allied_db_statements_total) next to the count here: a mismatch means this file is stale.

Server request path today (server/dispatch.c run_transaction, server/auth.c auth_or_reply), with a
warm key (the benchmark's steady state; server/auth_cache.c):
  a write: BEGIN, set_config('allied.tenant_id', tenant, true) and the handler's first statement
  go out together in one libpq pipeline (one round trip); then the handler's other statements;
  COMMIT. A read (GET): no BEGIN or COMMIT; the tenant (and read-only) setting and the handler's
  first statement go out in an open pipeline, one implicit transaction ended by a sync that is
  read with the next request's pipeline, so a GET costs two statements and one round trip. pgbench mirrors the pipelines with
  \startpipeline/\endpipeline where it can (it cannot \gset inside a pipeline, so a transition's
  first statement, which reads into variables, costs pgbench one round trip more than the server).
A cold key instead runs allied_authenticate(prefix, sha256 hex of the whole key) in that first
pipeline (AUTH below), once per key per instance."""
import re

BEGIN = ("BEGIN", {})                                                    # server/dispatch.c st_begin
COMMIT = ("COMMIT", {})                                                  # server/dispatch.c st_commit
SET_TENANT = ("SELECT set_config('allied.tenant_id', $1, true)", {1: ":tenant"})  # server/auth.c (warm key)
SET_TENANT_READ = ("SELECT set_config('allied.tenant_id', $1, true), "            # server/auth.c (warm key, GET)
                   "set_config('transaction_read_only', 'on', true)", {1: ":tenant"})
AUTH = ("SELECT key_id, key_tenant, key_role, coalesce(key_partner::text, '') "  # server/auth.c
        "FROM allied_authenticate($1, $2)", {1: ":prefix", 2: ":hash"})

# api/partners.c
PARTNER_GET = ("SELECT partner_json(p), p.version FROM partners p "
               "WHERE p.tenant_id = $1 AND p.id = $2 AND ($3::uuid IS NULL OR p.id = $3)")
PARTNER_LIST_FIRST = (  # LIST_SPEC(partner_list, ...) expanded as server/edge/list.h does
    "SELECT partner_json(p), api_ts(p.created_at), p.id FROM partners p "
    "WHERE p.tenant_id = $1 AND ($5::uuid IS NULL OR p.id = $5) "
    "  AND ($6::text IS NULL OR p.status = $6) AND ($7::text IS NULL OR p.kind = $7) "
    "  AND ($8::text IS NULL OR p.external_id = $8) AND ($9::timestamptz IS NULL OR p.updated_at >= $9) "
    "  AND ($10::text IS NULL OR p.name ILIKE $10 OR p.company ILIKE $10)"
    " AND $3::timestamptz IS NULL AND $4::uuid IS NULL "
    "ORDER BY p.created_at, p.id LIMIT $2")
PARTNER_INSERT = (
    "INSERT INTO partners AS p (tenant_id, id, name, company, email, phone, website, kind, "
    "  status, ideal_client, tags, external_id, metadata, qualification) "
    "SELECT $1, $2, b->>'name', b->>'company', b->>'email', b->>'phone', b->>'website', "
    "  coalesce(b->>'kind', 'referral'), coalesce(b->>'status', 'prospect'), b->>'ideal_client', "
    "  ARRAY(SELECT jsonb_array_elements_text(b->'tags')), b->>'external_id', "
    "  coalesce(b->'metadata', '{}'), "
    "  CASE WHEN jsonb_typeof(b->'qualification') = 'object' THEN b->'qualification' END "
    "FROM (SELECT $3::jsonb AS b) x RETURNING partner_json(p), p.version")

# api/referrals.c
REF_PARTNER = "SELECT status FROM partners WHERE tenant_id = $1 AND id = $2"
REF_DUP_LOCK = ("SELECT pg_advisory_xact_lock(hashtextextended($1 || ':email:' || $2, 0)) WHERE $2 <> '' "
                "UNION ALL "
                "SELECT pg_advisory_xact_lock(hashtextextended($1 || ':domain:' || $3, 0)) WHERE $3 <> ''")
REF_DUP_FIND = ("SELECT r.id FROM referrals r LEFT JOIN agreements a "
                "  ON a.tenant_id = r.tenant_id AND a.id = r.agreement_id "
                "WHERE r.tenant_id = $1 AND ((r.prospect_email = $2 AND $2 <> '') "
                "                         OR (r.prospect_domain = $3 AND $3 <> '')) "
                "  AND r.status IN ('submitted', 'acknowledged', 'engaged', 'won') "
                "  AND coalesce(r.closed_at, r.created_at) >= now() - make_interval(days => "
                "      coalesce((agreement_terms(a, r.direction)->>'protection_days')::int, 90)) "
                "ORDER BY r.created_at LIMIT 1")
REF_INSERT = ("WITH ag AS (SELECT a.id, (agreement_terms(a, $4)->>'acknowledge_within_hours')::int AS hours "
              "  FROM agreements a WHERE a.tenant_id = $1 AND a.partner_id = $3 "
              "  AND (a.direction = $4 OR a.direction = 'reciprocal') AND agreement_status(a) = 'active' "
              "  ORDER BY a.activated_at DESC LIMIT 1) "
              "INSERT INTO referrals AS r (tenant_id, id, partner_id, agreement_id, direction, prospect, "
              "  prospect_email, prospect_domain, external_id, override_reason, acknowledge_by) "
              "SELECT $1, $2, $3, (SELECT id FROM ag), $4, $5::jsonb, nullif($6, ''), nullif($7, ''), $8, $9, "
              "  now() + make_interval(hours => coalesce((SELECT hours FROM ag), 48)) "
              "RETURNING referral_json(r), r.version")
REF_EVENT = ("INSERT INTO referral_events (tenant_id, referral_id, type, from_status, to_status, note, "
             "  stage, actor_key_id, actor_role) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
# api/feed.c (the feed row, and the webhook outbox in the same statement)
FEED_APPEND = ("WITH s AS (INSERT INTO feed_counters AS f (tenant_id, last_seq) VALUES ($1, 1) "
               "  ON CONFLICT (tenant_id) DO UPDATE SET last_seq = f.last_seq + 1 RETURNING last_seq), "
               "e AS (INSERT INTO feed_events (tenant_id, seq, type, resource_type, resource_id, partner_id, data) "
               "  SELECT $1, s.last_seq, $2, $3, $4, $5, $6::json FROM s RETURNING seq, at) "
               "INSERT INTO webhook_deliveries (tenant_id, id, endpoint_id, feed_seq, type, payload) "
               "SELECT $1, gen_random_uuid(), w.id, e.seq, $2, "
               "  json_build_object('type', $2, 'timestamp', api_ts(e.at), 'data', $6::json)::text "
               "FROM e JOIN webhook_endpoints w ON w.tenant_id = $1 AND w.enabled "
               "  AND ('*' = ANY (w.events) OR $2 = ANY (w.events)) "
               "  AND (w.partner_id IS NULL OR w.partner_id = $5::uuid)")
# api/referral_actions.c
REF_READ = ("SELECT status, version, direction, partner_id FROM referrals "
            "WHERE tenant_id = $1 AND id = $2 AND ($3::uuid IS NULL OR partner_id = $3)")
REF_MOVE = ("UPDATE referrals r SET status = $5, version = r.version + 1, updated_at = now(), "
            "  stage = coalesce($6, r.stage), "
            "  deal_amount = coalesce($7::bigint, r.deal_amount), deal_currency = coalesce($8, r.deal_currency), "
            "  close_reason = coalesce($9, r.close_reason), close_note = CASE WHEN $11 THEN $10 ELSE r.close_note END, "
            "  acknowledged_at = CASE WHEN $5 = 'acknowledged' AND r.acknowledged_at IS NULL "
            "                         THEN now() ELSE r.acknowledged_at END, "
            "  closed_at = CASE WHEN $11 THEN now() ELSE r.closed_at END, "
            "  client_discount_bps = coalesce($12::int, r.client_discount_bps), "
            "  qualified_at = CASE WHEN $5 IN ('engaged', 'won') THEN coalesce(r.qualified_at, now()) "
            "                      ELSE r.qualified_at END "
            "WHERE r.tenant_id = $1 AND r.id = $2 AND r.status = $3 AND r.version = $4 "
            "RETURNING referral_json(r), r.version")
# api/commissions.c (a win)
COMM_PLAN = ("SELECT r.agreement_id, agreement_terms(a, r.direction)::text, r.attributions::text, r.direction, "
             "  r.partner_id "
             "FROM referrals r LEFT JOIN agreements a ON a.tenant_id = r.tenant_id AND a.id = r.agreement_id "
             "WHERE r.tenant_id = $1 AND r.id = $2")
COMM_INSERT = ("INSERT INTO commissions AS c (tenant_id, id, referral_id, partner_id, agreement_id, kind, type, "
               "  amount, currency, share_bps, payable_at) "
               "SELECT $1, u.id, $2, u.partner_id, $3, $4, 'commission', u.amount, $5, u.share, "
               "  now() + make_interval(days => $6::int) "
               "FROM unnest($7::uuid[], $8::uuid[], $9::bigint[], $10::int[]) AS u(id, partner_id, amount, share) "
               "RETURNING commission_json(c), c.id, c.partner_id")

# Values the server computes in C, made in SQL from pgbench's random :n and :m instead.
RID = "CAST(md5(CAST(:n AS text) || '-' || CAST(:m AS text)) AS uuid)"
EMAIL = "('b@' || CAST(:n AS text) || '-' || CAST(:m AS text) || '.pg')"
DOMAIN = "(CAST(:n AS text) || '-' || CAST(:m AS text) || '.pg')"
RANDOM = ["\\set n random(1, 2000000000)", "\\set m random(1, 2000000000)"]


def feed(event, resource, rid, partner, doc):
    return (FEED_APPEND, {1: ":tenant", 2: "'%s'" % event, 3: "'%s'" % resource, 4: rid, 5: partner, 6: doc})


def event(action, frm, to, stage="NULL"):
    return (REF_EVENT, {1: ":tenant", 2: RID, 3: "'%s'" % action, 4: frm, 5: "'%s'" % to, 6: "NULL",
                        7: stage, 8: ":keyid", 9: "'admin'"})


# Requests: lists of (server SQL, {n: pgbench text}[, "gset"]) and pgbench meta-commands (str).
PIPE, END = "\\startpipeline", "\\endpipeline"
# A read is one implicit transaction: the statements up to the pipeline's sync (no BEGIN/COMMIT).
GET_PARTNER = [PIPE, SET_TENANT_READ, (PARTNER_GET, {1: ":tenant", 2: ":pid", 3: "NULL"}), END]
LIST_PARTNERS = [PIPE, SET_TENANT_READ,
                 (PARTNER_LIST_FIRST, {1: ":tenant", 2: ":limit", 3: "NULL", 4: "NULL", 5: "NULL", 6: "NULL",
                                       7: "NULL", 8: "NULL", 9: "NULL", 10: "NULL"}), END]
POST_PARTNER = [PIPE, BEGIN, SET_TENANT, (PARTNER_INSERT, {1: ":tenant", 2: "gen_random_uuid()", 3: ":body"}),
                END, COMMIT]
SUBMIT = RANDOM + [
    PIPE, BEGIN, SET_TENANT, (REF_PARTNER, {1: ":tenant", 2: ":pid"}), END,
    (REF_DUP_LOCK, {1: ":tenant", 2: EMAIL, 3: DOMAIN}),
    (REF_DUP_FIND, {1: ":tenant", 2: EMAIL, 3: DOMAIN}),
    (REF_INSERT, {1: ":tenant", 2: RID, 3: ":pid", 4: "'inbound'", 5: "'{\"name\":\"B\"}'", 6: EMAIL, 7: DOMAIN,
                  8: "NULL", 9: "NULL"}, "gset"),
    event("submitted", "NULL", "submitted"),
    feed("referral.submitted", "referral", RID, ":pid", ":referral_json"), COMMIT]


def transition(action, frm, to, stage="NULL", amount="NULL", currency="NULL", closing="false"):
    """POST /v1/referrals/{id}/<action> on the referral SUBMIT made (same :n, :m)."""
    win = action == "won"
    steps = [PIPE, BEGIN, SET_TENANT, END, (REF_READ, {1: ":tenant", 2: RID, 3: "NULL"}, "gset")]
    if win:
        steps.append((COMM_PLAN, {1: ":tenant", 2: RID}, "gset"))
    steps.append((REF_MOVE, {1: ":tenant", 2: RID, 3: ":status", 4: ":version", 5: "'%s'" % to, 6: stage,
                             7: amount, 8: currency, 9: "NULL", 10: "NULL", 11: closing, 12: "NULL"}, "gset"))
    if win:  # one payable commission for the whole deal (10 % of 100000), and its feed event
        steps.append((COMM_INSERT, {1: ":tenant", 2: RID, 3: ":agreement_id", 4: "'payable'", 5: currency,
                                    6: "'0'", 7: "CAST(ARRAY[gen_random_uuid()] AS text)",
                                    8: "('{' || :partner_id || '}')", 9: "'{10000}'", 10: "'{10000}'"}, "gset"))
        steps.append(feed("commission.created", "commission", ":id", ":partner_id", ":commission_json"))
    steps += [event(action, "'%s'" % frm, to, stage),
              feed("referral." + action, "referral", RID, ":pid", ":referral_json"), COMMIT]
    return steps


ACKNOWLEDGE = transition("acknowledged", "submitted", "acknowledged")
ENGAGE = transition("engaged", "acknowledged", "engaged", stage="'demo'")
WIN = transition("won", "engaged", "won", amount="'100000'", currency="'EUR'", closing="true")
WORKFLOW = SUBMIT + ACKNOWLEDGE + ENGAGE + WIN  # four requests, one pgbench transaction

# The yardstick: one single-row read and nothing else (the tenant is a session setting).
ONE_READ = [(PARTNER_GET, {1: ":tenant", 2: ":pid", 3: "NULL"})]


def _colons_in_literals(sql):
    """pgbench reads :word as a variable even inside quotes: spell such colons as \\072."""
    def fix(m):
        lit = m.group(0)
        return "E" + lit.replace(":", "\\072") if re.search(r":[A-Za-z_]", lit) else lit
    return re.sub(r"'(?:[^']|'')*'", fix, sql)


def statements(steps):
    return sum(1 for s in steps if not isinstance(s, str))


def pgbench_script(steps):
    out = []
    for s in steps:
        if isinstance(s, str):
            out.append(s)
            continue
        sql, args = s[0], s[1]
        sql = _colons_in_literals(sql)
        sql = re.sub(r"\$(\d+)", lambda m: args[int(m.group(1))], sql)
        sql = re.sub(r"\s+", " ", sql).strip()
        out.append(sql + (" \\gset" if len(s) > 2 and s[2] == "gset" else ";"))
    return "\n".join(out) + "\n"
