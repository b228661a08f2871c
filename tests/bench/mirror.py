"""THE MIRRORED SQL: what the server sends to PostgreSQL for each benchmarked request, statement
for statement, so pgbench can run the same work with no HTTP, no C and no JSON in between.

This is the one place to update when the request path changes (which statements, in which order).
Each statement is read from the server's own source (its DB_STMT or LIST_SPEC, by file and name),
so it cannot drift from what the server prepares; each comes with a map from each $n to what
pgbench sends instead:
  ":name"   a pgbench variable (bench.py passes them with -D or a \\gset sets them), sent as a
            parameter exactly like the server's (pgbench -M prepared);
  "NULL"    where the server sends a NULL parameter (pgbench cannot pass NULL as a variable);
  "'lit'"   or an SQL expression where the server sends a value it computed in C (a fresh id, an
            e-mail key), so the statement count stays the same.
The bench prints each route's statements per request as measured on the server
(allied_db_statements_total) next to the count here: a mismatch means this file is stale.

Server request path today (server/edge/dispatch.c run_transaction, server/edge/auth.c auth_or_reply),
with a warm key (the benchmark's steady state; server/edge/auth_cache.c):
  a write: BEGIN, set_config('allied.tenant_id', tenant, true) and the handler's first statement
  go out together in one libpq pipeline (one round trip); then the handler's other statements;
  what the handler deferred (db_defer: its feed appends, which lock the tenant's feed counter row),
  the audit event (server/edge/audit.c) and COMMIT, together in one pipeline. A read (GET): no BEGIN or COMMIT; the tenant (and read-only) setting and the handler's
  first statement go out in a pipeline, one implicit transaction ended by a sync; for a GET by id
  or a list page the sync goes in the same flush as the handler's only statement (db_exec_final),
  as pgbench's \endpipeline sends it, so a GET costs two statements and one round trip; an
  unfiltered list page three (its plan settings go before it: server/edge/list.c). pgbench mirrors the pipelines with
  \startpipeline/\endpipeline where it can (it cannot \gset inside a pipeline, so a transition's
  first statement, which reads into variables, costs pgbench one round trip more than the server).
A cold key instead runs allied_authenticate(prefix, sha256 hex of the whole key) in that first
pipeline (AUTH below), once per key per instance: one statement (the key, its tenant's state and
operator keys; migration 0025).
The server counts only requests' statements (allied_db_statements_total leaves out background
work on system connections), so a stmts/req above this file's count is a stale mirror or retries."""
import os
import re
import subprocess

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
_LITERAL = re.compile(r'"((?:[^"\\]|\\.)*)"')


PKGS = ["libmicrohttpd", "jansson", "libpq", "uuid", "libcrypto", "libcurl"]  # the Makefile's PKGS
_PRE = {}


def _preprocessed(path):
    """`path` through the C preprocessor with the build's include flags: every macro the SQL is made
    of (X-macro lists, NOT_ANNOUNCED, ...) expanded exactly as the compiler sees it."""
    if path not in _PRE:
        flags = subprocess.run(["pkg-config", "--cflags"] + PKGS, capture_output=True, text=True).stdout.split()
        out = subprocess.run([os.environ.get("CC", "cc"), "-E", "-P", "-std=c17", "-D_GNU_SOURCE", "-I" + ROOT]
                             + flags + [os.path.join(ROOT, path)], capture_output=True, text=True, check=True)
        _PRE[path] = out.stdout
    return _PRE[path]


def _literals(text, at):
    """The C string literals that follow `at` in `text`, concatenated as the compiler does."""
    out, i = [], at
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        m = _LITERAL.match(text, i)
        if not m:
            return "".join(out)
        out.append(bytes(m.group(1), "utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8"))
        i = m.end()


def stmt(path, name):
    """The text of DB_STMT(name, ...) in `path`, exactly as the server prepares it."""
    text = _preprocessed(path)
    m = re.search(r"struct db_stmt %s = \{ *\.sql = " % re.escape(name), text)
    if not m:
        raise KeyError("no DB_STMT(%s, ...) in %s" % (name, path))
    return _literals(text, m.end())


def list_first(path, name, unfiltered=False):
    """The first-page statement of LIST_SPEC(name, select, key, ...) (server/edge/list.h); with
    `unfiltered`, the one list_reply sends for a page with no filter and no partner scope."""
    text = _preprocessed(path)
    m = re.search(r"struct list_spec %s = \{" % re.escape(name), text)
    f = m and re.compile(r"\.%s = \{ *\.sql = " % ("plain_first" if unfiltered else "first")).search(text, m.end())
    if not f:
        raise KeyError("no LIST_SPEC(%s, ...) in %s" % (name, path))
    return _literals(text, f.end())


BEGIN = (stmt("server/edge/dispatch.c", "st_begin"), {})
COMMIT = (stmt("server/edge/dispatch.c", "st_commit"), {})
AUDIT_INSERT = stmt("server/edge/audit.c", "st_insert")
SET_TENANT = (stmt("server/edge/auth.c", "st_set_tenant"), {1: ":tenant"})  # warm key
SET_TENANT_READ = (stmt("server/edge/auth.c", "st_set_tenant_read"), {1: ":tenant"})  # warm key, GET
AUTH = (stmt("server/edge/auth.c", "st_authenticate"), {1: ":prefix", 2: ":hash"})  # cold key

PARTNER_GET = stmt("api/partners.c", "st_get")
PARTNER_LIST_FIRST = list_first("api/partners.c", "partner_list", unfiltered=True)
UNFILTERED_PLAN = (stmt("server/edge/list.c", "st_unfiltered_plan"), {})  # an unfiltered page's plan settings
PARTNER_INSERT = stmt("api/partners.c", "st_insert")
REF_PARTNER = stmt("api/referrals/referrals.c", "st_partner")
REF_DUP_LOCK = stmt("api/referrals/referrals.c", "st_dup_lock")
REF_DUP_FIND = stmt("api/referrals/referrals.c", "st_dup_find")
REF_INSERT = stmt("api/referrals/referrals.c", "st_insert")
REF_EVENT = stmt("api/referrals/referrals.c", "st_event")
FEED_APPEND = stmt("api/feed.c", "st_append")  # the feed row and the webhook outbox, one statement
REF_READ = stmt("api/referrals/referral_actions.c", "st_read")
REF_MOVE = stmt("api/referrals/referral_actions.c", "st_move")
COMM_PLAN = stmt("api/money/commissions.c", "st_plan")  # a win
COMM_INSERT = stmt("api/money/commissions.c", "st_insert")

# Values the server computes in C, made in SQL from pgbench's random :n and :m instead.
RID = "CAST(md5(CAST(:n AS text) || '-' || CAST(:m AS text)) AS uuid)"
EMAIL = "('b@' || CAST(:n AS text) || '-' || CAST(:m AS text) || '.pg')"
DOMAIN = "(CAST(:n AS text) || '-' || CAST(:m AS text) || '.pg')"
RANDOM = ["\\set n random(1, 2000000000)", "\\set m random(1, 2000000000)"]


def audit_commit(route, status, deferred=()):
    """A write's end, one pipeline: the statements it deferred (db_defer: the feed appends), its audit
    event (the JSON the server builds in C, made in SQL) and COMMIT."""
    row = ("CAST(json_build_object('tenant_id', CAST(:tenant AS text), 'key_id', CAST(:keyid AS text), "
           "'client_address', '127.0.0.1', 'method', 'POST', 'route', '%s', 'resource_id', NULL, "
           "'status', %d, 'request_id', 'bench') AS text)" % (route, status))
    return [PIPE] + list(deferred) + [(AUDIT_INSERT, {1: row}), COMMIT, END]


def feed(event, resource, rid, partner, doc):
    return (FEED_APPEND, {1: ":tenant", 2: "'%s'" % event, 3: "'%s'" % resource, 4: rid, 5: partner, 6: doc})


def event(action, frm, to, stage="NULL"):
    return (REF_EVENT, {1: ":tenant", 2: RID, 3: "'%s'" % action, 4: frm, 5: "'%s'" % to, 6: "NULL",
                        7: stage, 8: ":keyid", 9: "'admin'"})


# Requests: lists of (server SQL, {n: pgbench text}[, "gset"]) and pgbench meta-commands (str).
PIPE, END = "\\startpipeline", "\\endpipeline"
# A read is one implicit transaction: the statements up to the pipeline's sync (no BEGIN/COMMIT).
GET_PARTNER = [PIPE, SET_TENANT_READ, (PARTNER_GET, {1: ":tenant", 2: ":pid", 3: "NULL"}), END]
LIST_PARTNERS = [PIPE, SET_TENANT_READ, UNFILTERED_PLAN,
                 (PARTNER_LIST_FIRST, {1: ":tenant", 2: ":limit", 3: "NULL", 4: "NULL", 5: "NULL", 6: "NULL",
                                       7: "NULL", 8: "NULL", 9: "NULL", 10: "NULL"}), END]
POST_PARTNER = [PIPE, BEGIN, SET_TENANT, (PARTNER_INSERT, {1: ":tenant", 2: "gen_random_uuid()", 3: ":body"}),
                END] + audit_commit("/v1/partners", 201)
SUBMIT = RANDOM + [
    PIPE, BEGIN, SET_TENANT, (REF_PARTNER, {1: ":tenant", 2: ":pid"}), END,
    (REF_DUP_LOCK, {1: ":tenant", 2: EMAIL, 3: DOMAIN}),
    (REF_DUP_FIND, {1: ":tenant", 2: EMAIL, 3: DOMAIN}),
    (REF_INSERT, {1: ":tenant", 2: RID, 3: ":pid", 4: "'inbound'", 5: "'{\"name\":\"B\"}'", 6: EMAIL, 7: DOMAIN,
                  8: "NULL", 9: "NULL"}, "gset"),
    event("submitted", "NULL", "submitted")] + audit_commit(
        "/v1/referrals", 201, [feed("referral.submitted", "referral", RID, ":pid", ":referral_json")])


def transition(action, frm, to, stage="NULL", amount="NULL", currency="NULL", closing="false"):
    """POST /v1/referrals/{id}/<action> on the referral SUBMIT made (same :n, :m)."""
    win = action == "won"
    steps = [PIPE, BEGIN, SET_TENANT, END, (REF_READ, {1: ":tenant", 2: RID, 3: "NULL"}, "gset")]
    if win:
        steps.append((COMM_PLAN, {1: ":tenant", 2: RID}, "gset"))
    steps.append((REF_MOVE, {1: ":tenant", 2: RID, 3: ":status", 4: ":version", 5: "'%s'" % to, 6: stage,
                             7: amount, 8: currency, 9: "NULL", 10: "NULL", 11: closing, 12: "NULL"}, "gset"))
    steps.append(event(action, "'%s'" % frm, to, stage))
    feeds = []  # deferred by the server: they go out with the COMMIT
    if win:  # one payable commission for the whole deal (10 % of 100000), and its feed event
        steps.append((COMM_INSERT, {1: ":tenant", 2: RID, 3: ":agreement_id", 4: "'payable'", 5: currency,
                                    6: "'0'", 7: "CAST(ARRAY[gen_random_uuid()] AS text)",
                                    8: "('{' || :partner_id || '}')", 9: "'{10000}'", 10: "'{10000}'"}, "gset"))
        feeds.append(feed("commission.created", "commission", ":id", ":partner_id", ":commission_json"))
    feeds.append(feed("referral." + action, "referral", RID, ":pid", ":referral_json"))
    return steps + audit_commit("/v1/referrals/{id}/" + {"acknowledged": "acknowledge", "engaged": "engage",
                                                         "won": "win"}[action], 200, feeds)


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
