/* The scheduler of time-based events. One thread per `allied serve`, on a system connection
 * (allied.scope = 'all': it serves every tenant). For each kind, one transaction:
 *   1. claim — an indexed scan on the due moment (a partial index per kind, migrations/0020;
 *      for overdue acknowledgements and payable commissions the claim also marks its rows, which
 *      leave the index, so rows that stay due are not walked again: 0027, 0028)
 *      takes the due resources not yet announced, FOR UPDATE SKIP LOCKED, so another instance
 *      scanning at the same time takes other rows and a request changing the resource meanwhile
 *      is seen (a referral acknowledged just now is no longer overdue);
 *   2. record — per resource, the occurrence row (tenant, kind, resource, the due moment as key)
 *      with ON CONFLICT DO NOTHING, and only when it is new, the feed append (api/feed.c, the
 *      same statement as requests use, so the webhook outbox is written too) and, for referrals,
 *      the timeline entry;
 *   3. commit — all of it or nothing: a crash between claim and commit leaves no occurrence,
 *      and the next scan (by any instance) announces it; the unique key never lets it twice.
 * A batch that fails with an error that will come again (a constraint, a bug; not an outage, a
 * time limit or a deadlock) is taken again one resource at a time, and the resource that fails
 * alone is set aside (its occurrence recorded with the error, nothing announced, logged), so one
 * bad row never silences its kind, or the kinds after it, for every tenant. A kind that fails
 * does not stop the pass: the others are scanned, then the loop backs off.
 * "Now" is a parameter of every scan (never now() in them), so ALLIED_TEST_CLOCK_OFFSET_S can
 * shift the scheduler's clock — and only the scheduler's — in test mode.
 * Idle, the loop asks for the next due moment (min over the same partial indexes) and sleeps
 * until then, at most ALLIED_TIME_EVENTS_MAX_SLEEP_MS. While the database is away it backs off
 * (server/backoff.h) and logs the outage once and the recovery once. */
#include "api/time_events.h"
#include "server/loop.h"
#include "api/feed.h"
#include "server/backoff.h"
#include "server/config.h"
#include "server/data/db.h"
#include "server/edge/metrics.h"
#include "server/log.h"
#include "server/util.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Resources claimed per kind and transaction. */
#define BATCH 200
#define BATCH_TEXT "200"

/* $1 the scheduler's now (timestamptz); its UTC day: */
#define TODAY "($1::timestamptz AT TIME ZONE 'UTC')::date"
#define NOT_ANNOUNCED(kind, row, key)                                                              \
    "NOT EXISTS (SELECT 1 FROM time_event_occurrences o WHERE o.tenant_id = " row ".tenant_id "     \
    "AND o.kind = '" kind "' AND o.resource_id = " row ".id AND o.occurrence_key = " key ") "

/* A drain (a batch was full, more are due) goes on from the last batch's sort key ($3, NULL for
 * a pass's first batch) instead of walking again past everything announced that is still in the
 * partial index (an overdue referral stays `submitted`): without it draining N due items costs
 * O(N^2) index steps. What a drain passes over (a row locked by another instance, SKIP LOCKED)
 * is found by the next pass, which starts from the beginning. */
#define AFTER(key, type) "AND ($3::text IS NULL OR " key " >= $3::" type ") "

/* Each scan: $1 now, $2 the batch size, $3 where a drain goes on from (above), $4 (where used) a
 * number of days. Columns: tenant, resource id, partner, occurrence key, the resource's JSON, the
 * referral's status (timeline), the sort key (text: a drain's next $3). */
/* A claim that marks what it claims (migrations 0027, 0028), so an announced row that stays due
 * leaves the partial index the scan walks; the mark commits or rolls back with the announcement.
 * `markable` keeps out the rows an UPDATE would refuse (a CHECK older rows were let off, 0010's
 * NOT VALID): marking one would make every claim of the kind fail; unmarked, it is only walked
 * past again (the occurrence row keeps it from being announced twice). */
#define CLAIM_AND_MARK(claim, table, mark, markable, order)                                        \
    "WITH due AS (" claim "), m AS (UPDATE " table " x SET " mark " FROM due "                      \
    "  WHERE x.tenant_id = due.tenant_id AND x.id = due.id AND " markable ") "                     \
    "SELECT tenant_id, id, partner_id, okey, doc, status, skey FROM due ORDER BY " order
DB_STMT(st_ack_overdue,
        CLAIM_AND_MARK(
        "SELECT r.tenant_id, r.id, r.partner_id, api_ts(r.acknowledge_by) AS okey, referral_json(r) AS doc, "
        "  r.status, r.acknowledge_by::text AS skey, r.acknowledge_by AS due_at "
        "FROM referrals r WHERE r.status = 'submitted' AND r.acknowledge_by <= $1::timestamptz "
        "AND r.ack_overdue_announced_for IS DISTINCT FROM r.acknowledge_by AND "
        NOT_ANNOUNCED("referral.acknowledgement_overdue", "r", "api_ts(r.acknowledge_by)")
        AFTER("r.acknowledge_by", "timestamptz")
        "ORDER BY r.acknowledge_by LIMIT $2 FOR UPDATE OF r SKIP LOCKED",
        "referrals", "ack_overdue_announced_for = x.acknowledge_by", "true", "due_at"));
/* A threshold that varies per row (the tenant's setting, the agreement's) cannot be in a partial
 * index: the index holds the base time, the range scanned is bounded by the smallest threshold in
 * use (one probe each: tenants are few, agreements_stalled_days), and each row is then checked
 * against its own. $4 is the instance's default. */
#define STALLED_DAYS "coalesce(a.stalled_after_days, t.stalled_after_days, $4::int)"
#define STALLED_MIN                                                                                \
    "(SELECT least(min(coalesce(t2.stalled_after_days, $4::int)), "                                  \
    "  (SELECT min(stalled_after_days) FROM agreements WHERE stalled_after_days IS NOT NULL)) FROM tenants t2)"
DB_STMT(st_stalled,
        "SELECT r.tenant_id, r.id, r.partner_id, api_ts(r.updated_at), referral_json(r), r.status, r.updated_at::text "
        "FROM referrals r JOIN tenants t ON t.id = r.tenant_id "
        "LEFT JOIN agreements a ON a.tenant_id = r.tenant_id AND a.id = r.agreement_id "
        "WHERE r.status = 'engaged' AND r.updated_at <= $1::timestamptz - make_interval(days => " STALLED_MIN ") "
        "AND r.updated_at <= $1::timestamptz - make_interval(days => " STALLED_DAYS ") AND "
        NOT_ANNOUNCED("referral.stalled", "r", "api_ts(r.updated_at)")
        AFTER("r.updated_at", "timestamptz")
        "ORDER BY r.updated_at LIMIT $2 FOR UPDATE OF r SKIP LOCKED");
/* Once in a commission's life (an invoice rejected or void makes it payable again: no new event).
 * The mark's condition is commissions_amount_max (migration 0010), word for word. */
#define COMMISSION_MARKABLE "x.amount BETWEEN -1000000000000000 AND 1000000000000000"
DB_STMT(st_payable,
        CLAIM_AND_MARK(
        "SELECT c.tenant_id, c.id, c.partner_id, 'payable' AS okey, commission_json(c) AS doc, NULL AS status, "
        "  c.payable_at::text AS skey, c.payable_at AS due_at "
        "FROM commissions c WHERE c.status = 'pending' AND c.type = 'commission' AND NOT c.payable_announced "
        "AND c.payable_at <= $1::timestamptz AND "
        NOT_ANNOUNCED("commission.payable", "c", "'payable'")
        AFTER("c.payable_at", "timestamptz")
        "ORDER BY c.payable_at LIMIT $2 FOR UPDATE OF c SKIP LOCKED",
        "commissions", "payable_announced = true", COMMISSION_MARKABLE, "due_at"));
DB_STMT(st_invoice_overdue,
        "SELECT i.tenant_id, i.id, i.partner_id, i.due_on::text, invoice_json(i), NULL, i.due_on::text "
        "FROM invoices i WHERE i.status IN ('submitted', 'approved') AND i.due_on < " TODAY " AND "
        NOT_ANNOUNCED("invoice.overdue", "i", "i.due_on::text")
        AFTER("i.due_on", "date")
        "ORDER BY i.due_on LIMIT $2 FOR UPDATE OF i SKIP LOCKED");
#define ENDING "a.ends_on IS NOT NULL AND NOT a.auto_renew AND a.status IN ('active', 'suspended') "
#define EXPIRING_DAYS "coalesce(t.agreement_expiring_days, $4::int)"
DB_STMT(st_expiring,
        "SELECT a.tenant_id, a.id, a.partner_id, a.ends_on::text, agreement_json(a), NULL, a.ends_on::text "
        "FROM agreements a JOIN tenants t ON t.id = a.tenant_id WHERE " ENDING "AND a.ends_on >= " TODAY " "
        "AND a.ends_on <= " TODAY " + (SELECT max(coalesce(agreement_expiring_days, $4::int)) FROM tenants) "
        "AND a.ends_on <= " TODAY " + " EXPIRING_DAYS " AND "
        NOT_ANNOUNCED("agreement.expiring", "a", "a.ends_on::text")
        AFTER("a.ends_on", "date")
        "ORDER BY a.ends_on LIMIT $2 FOR UPDATE OF a SKIP LOCKED");
DB_STMT(st_expired,
        "SELECT a.tenant_id, a.id, a.partner_id, a.ends_on::text, agreement_json(a), NULL, a.ends_on::text "
        "FROM agreements a WHERE " ENDING "AND a.ends_on < " TODAY " AND "
        NOT_ANNOUNCED("agreement.expired", "a", "a.ends_on::text")
        AFTER("a.ends_on", "date")
        "ORDER BY a.ends_on LIMIT $2 FOR UPDATE OF a SKIP LOCKED");

/* Commitments, by the scorecards' rule (commitment_status_on, migration 0020) on the scheduler's
 * day. Once per commitment each: at_risk while its period runs, missed in the week after it
 * ended (a scheduler away longer than that does not announce it late). */
#define COMMITMENT "commitment_status_on(c, commitment_achieved(c), " TODAY ")"
DB_STMT(st_at_risk,
        "SELECT c.tenant_id, c.id, c.partner_id, c.period_end::text, commitment_json(c), NULL, c.period_end::text "
        "FROM commitments c WHERE c.period_end >= " TODAY " AND c.period_start <= " TODAY " AND "
        NOT_ANNOUNCED("commitment.at_risk", "c", "c.period_end::text")
        "AND " COMMITMENT " = 'at_risk' "
        AFTER("c.period_end", "date")
        "ORDER BY c.period_end LIMIT $2 FOR UPDATE OF c SKIP LOCKED");
DB_STMT(st_missed,
        "SELECT c.tenant_id, c.id, c.partner_id, c.period_end::text, commitment_json(c), NULL, c.period_end::text "
        "FROM commitments c WHERE c.period_end < " TODAY " AND c.period_end >= " TODAY " - 7 AND "
        NOT_ANNOUNCED("commitment.missed", "c", "c.period_end::text")
        "AND " COMMITMENT " = 'missed' "
        AFTER("c.period_end", "date")
        "ORDER BY c.period_end LIMIT $2 FOR UPDATE OF c SKIP LOCKED");
/* The partner's latest check-in (as the relationship view orders them) says when the next is due. */
DB_STMT(st_check_in_due,
        "SELECT k.tenant_id, k.id, k.partner_id, k.next_due_on::text, check_in_json(k), NULL, k.next_due_on::text "
        "FROM check_ins k WHERE k.next_due_on IS NOT NULL AND k.next_due_on <= " TODAY " "
        "AND NOT EXISTS (SELECT 1 FROM check_ins l WHERE l.tenant_id = k.tenant_id AND l.partner_id = k.partner_id "
        "  AND (l.held_on, l.created_at) > (k.held_on, k.created_at)) AND "
        NOT_ANNOUNCED("check_in.due", "k", "k.next_due_on::text")
        AFTER("k.next_due_on", "date")
        "ORDER BY k.next_due_on LIMIT $2 FOR UPDATE OF k SKIP LOCKED");

/* An active partner without a referral (partners.last_referral_at, kept by the referral's insert,
 * migration 0023; never one: since the partner was created) for the tenant's threshold. Only in
 * the 7 days after it became dormant, like commitment.missed: partners dormant for long stay out
 * of the range scanned at each wake-up. */
#define DRY_SINCE "coalesce(p.last_referral_at, p.created_at)"
#define DORMANT_DAYS "coalesce(t.dormant_after_days, $4::int)"
DB_STMT(st_dormant,
        "SELECT p.tenant_id, p.id, p.id, api_ts(" DRY_SINCE "), partner_json(p), NULL, " DRY_SINCE "::text "
        "FROM partners p JOIN tenants t ON t.id = p.tenant_id WHERE p.status = 'active' "
        "AND " DRY_SINCE " <= $1::timestamptz - make_interval(days => "
        "  (SELECT min(coalesce(dormant_after_days, $4::int)) FROM tenants)) "
        "AND " DRY_SINCE " > $1::timestamptz - make_interval(days => "
        "  (SELECT max(coalesce(dormant_after_days, $4::int)) + 7 FROM tenants)) "
        "AND " DRY_SINCE " <= $1::timestamptz - make_interval(days => " DORMANT_DAYS ") "
        "AND " DRY_SINCE " > $1::timestamptz - make_interval(days => " DORMANT_DAYS " + 7) AND "
        NOT_ANNOUNCED("partner.dormant", "p", "api_ts(" DRY_SINCE ")")
        AFTER(DRY_SINCE, "timestamptz")
        "ORDER BY " DRY_SINCE " LIMIT $2 FOR UPDATE OF p SKIP LOCKED");

/* Seconds from $1 (now) to the next moment something becomes due, NULL when nothing will;
 * $2 stalled days, $3 expiring days, $4 dormant days: the instance's defaults, so a row under
 * another threshold (its tenant's or agreement's) may be foreseen early (a scan that finds
 * nothing) or not at all (the idle cap, ALLIED_TIME_EVENTS_MAX_SLEEP_MS, wakes the scheduler
 * for it). Each part is a min() over a partial index. */
DB_STMT(st_next_due,
        "SELECT extract(epoch FROM least("
        " (SELECT min(acknowledge_by) FROM referrals WHERE status = 'submitted' "
        "    AND ack_overdue_announced_for IS DISTINCT FROM acknowledge_by AND acknowledge_by > $1::timestamptz),"
        " (SELECT min(updated_at) FROM referrals WHERE status = 'engaged' "
        "    AND updated_at > $1::timestamptz - make_interval(days => $2::int)) + make_interval(days => $2::int),"
        " (SELECT min(payable_at) FROM commissions WHERE status = 'pending' AND type = 'commission' "
        "    AND NOT payable_announced AND payable_at > $1::timestamptz),"
        " (SELECT (min(due_on) + 1)::timestamp AT TIME ZONE 'UTC' FROM invoices "
        "    WHERE status IN ('submitted', 'approved') AND due_on >= " TODAY "),"
        " (SELECT (min(a.ends_on) - $3::int)::timestamp AT TIME ZONE 'UTC' FROM agreements a "
        "    WHERE " ENDING "AND a.ends_on > " TODAY " + $3::int),"
        " (SELECT (min(a.ends_on) + 1)::timestamp AT TIME ZONE 'UTC' FROM agreements a "
        "    WHERE " ENDING "AND a.ends_on >= " TODAY "),"
        " (SELECT (min(period_end) + 1)::timestamp AT TIME ZONE 'UTC' FROM commitments WHERE period_end >= " TODAY "),"
        " (SELECT min(next_due_on)::timestamp AT TIME ZONE 'UTC' FROM check_ins "
        "    WHERE next_due_on IS NOT NULL AND next_due_on > " TODAY "),"
        " (SELECT min(coalesce(last_referral_at, created_at)) FROM partners WHERE status = 'active' "
        "    AND coalesce(last_referral_at, created_at) > $1::timestamptz - make_interval(days => $4::int))"
        "    + make_interval(days => $4::int)"
        ") - $1::timestamptz)");

DB_STMT(st_begin, "BEGIN");
DB_STMT(st_commit, "COMMIT");
DB_STMT(st_rollback, "ROLLBACK");
DB_STMT(st_occurrence,
        "INSERT INTO time_event_occurrences (tenant_id, kind, resource_id, occurrence_key) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING 1");
/* A resource that cannot be announced: its occurrence with the error, so the scans pass it by
 * (migration 0030; an operator deletes the row to have it announced). Its own transaction. */
DB_STMT(st_set_aside,
        "INSERT INTO time_event_occurrences (tenant_id, kind, resource_id, occurrence_key, set_aside) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING");
/* The referral's timeline: a notice, not a transition (from and to are its status). */
DB_STMT(st_timeline,
        "INSERT INTO referral_events (tenant_id, referral_id, type, from_status, to_status, actor_role) "
        "VALUES ($1, $2, $3, $4, $4, 'system')");

struct kind {
    const char *type;          /* the feed event type, also the occurrence's kind */
    const char *resource_type; /* feed_events.resource_type */
    const char *timeline;      /* the referral timeline's entry type, or NULL */
    struct db_stmt *scan;
    const int *days;           /* the scan's $4, or NULL when it takes none */
};

static const struct kind KINDS[] = {
    {"referral.acknowledgement_overdue", "referral", "acknowledgement_overdue", &st_ack_overdue, NULL},
    {"referral.stalled", "referral", "stalled", &st_stalled, &cfg.stalled_days},
    {"commission.payable", "commission", NULL, &st_payable, NULL},
    {"invoice.overdue", "invoice", NULL, &st_invoice_overdue, NULL},
    {"agreement.expiring", "agreement", NULL, &st_expiring, &cfg.expiring_days},
    {"agreement.expired", "agreement", NULL, &st_expired, NULL},
    {"commitment.at_risk", "commitment", NULL, &st_at_risk, NULL},
    {"commitment.missed", "commitment", NULL, &st_missed, NULL},
    {"check_in.due", "check_in", NULL, &st_check_in_due, NULL},
    {"partner.dormant", "partner", NULL, &st_dormant, &cfg.dormant_days},
};
#define NKINDS (int)(sizeof KINDS / sizeof KINDS[0])

static struct loop scheduler = LOOP_INIT;
static atomic_long set_aside_total;

static char *render_metrics(void) {
    char *s = NULL;
    if (asprintf(&s,
                 "# HELP allied_time_events_set_aside_total Time-based events this instance could not announce "
                 "and set aside (time_event_occurrences.set_aside).\n"
                 "# TYPE allied_time_events_set_aside_total counter\nallied_time_events_set_aside_total %ld\n",
                 atomic_load(&set_aside_total)) < 0)
        return NULL;
    return s;
}

struct sched {
    struct db_conn *c;
    int failures;    /* database failures in a row; 0 = healthy */
    double down_since;
    char err[512];
    char after[NKINDS][64]; /* per kind: the sort key a drain goes on from; "" = from the start */
    /* the resource whose announcement failed in the last scan (tenant "" if none did) */
    char failed_tenant[40], failed_id[40], failed_key[64];
};

static double mono_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* The scheduler's now: the real time plus the test clock's offset (0 outside test mode). */
static void scheduler_now(char *buf, size_t len) {
    time_t t = time(NULL) + (time_t)cfg.test_clock_offset_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%d %H:%M:%S+00", &tm);
}

/* Sleeps `seconds` unless stopping (woken at once). */
static void nap(double seconds) {
    if (seconds > 0) loop_nap(&scheduler, (long)(seconds * 1000));
}

/* libpq's messages span lines: one log line. */
static void one_line(char *s) {
    for (char *q = s; *q; q++)
        if (*q == '\n' || *q == '\t') *q = ' ';
    for (size_t n = strlen(s); n > 0 && s[n - 1] == ' ';) s[--n] = '\0';
}

/* A database failure: drop a broken connection, log the outage once, return the wait (s). */
static double db_failed(struct sched *L, const char *what) {
    one_line(L->err);
    bool answered = L->c && db_ok(L->c);
    if (L->c && !answered) {
        db_close(L->c);
        L->c = NULL;
    }
    if (answered) /* the database answered with an error: our bug, not an outage */
        LOG_BUG("time events: %s: %s", what, L->err);
    if (L->failures++ == 0) {
        L->down_since = mono_s();
        if (!answered)
            log_msg(LOG_WARN, NULL,
                    "time events: %s: %s; retrying with back-off (%d ms doubling to %d ms); "
                    "logged once until the database is back",
                    what, L->err, cfg.backoff_min_ms, cfg.backoff_max_ms);
    }
    unsigned char b[4];
    random_bytes(b, sizeof b);
    uint32_t rnd = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return backoff_delay_ms(cfg.backoff_min_ms, cfg.backoff_max_ms, L->failures, rnd) / 1000.0;
}

static void db_worked(struct sched *L) {
    if (L->failures == 0) return;
    log_msg(LOG_INFO, NULL, "time events: the database is back after %.1f s (%d failed tries); resuming",
            mono_s() - L->down_since, L->failures);
    L->failures = 0;
}

/* Runs one statement on the loop's connection; false (error in L->err) on failure. */
static bool run(struct sched *L, struct db_stmt *st, int n, const char *const *p, PGresult **out) {
    PGresult *r = db_try_conn(L->c, st, n, p, L->err, sizeof L->err);
    if (!r) return false;
    if (out)
        *out = r;
    else
        PQclear(r);
    return true;
}

/* Announces one claimed resource unless already announced; false on a database failure. */
static bool announce(struct sched *L, const struct kind *k, PGresult *r, int i) {
    const char *tenant = PQgetvalue(r, i, 0), *id = PQgetvalue(r, i, 1);
    const char *partner = PQgetisnull(r, i, 2) ? NULL : PQgetvalue(r, i, 2);
    const char *op[] = {tenant, k->type, id, PQgetvalue(r, i, 3)};
    PGresult *o;
    if (!run(L, &st_occurrence, 4, op, &o)) return false;
    bool fresh = PQntuples(o) == 1;
    PQclear(o);
    if (!fresh) return true; /* another instance announced it first */
    if (k->timeline) {
        const char *tp[] = {tenant, id, k->timeline, PQgetvalue(r, i, 5)};
        if (!run(L, &st_timeline, 4, tp, NULL)) return false;
    }
    return feed_append_conn(L->c, tenant, k->type, k->resource_type, id, partner, PQgetvalue(r, i, 4), L->err,
                            sizeof L->err) == 0;
}

static PGresult *sort_rows; /* the result qsort compares rows of (this thread only) */
static int by_tenant(const void *a, const void *b) {
    return strcmp(PQgetvalue(sort_rows, *(const int *)a, 0), PQgetvalue(sort_rows, *(const int *)b, 0));
}

/* Where kind `i`'s next scan starts: after a full batch, from its last sort key (the scan's ORDER
 * BY, so the last row's), else from the start. */
static void drain_mark(struct sched *L, int i, PGresult *r, int n) {
    if (n == BATCH && !PQgetisnull(r, n - 1, 6))
        snprintf(L->after[i], sizeof L->after[i], "%s", PQgetvalue(r, n - 1, 6));
    else
        L->after[i][0] = '\0';
}

/* Kind `i`'s claim of up to `limit` resources, announcements and commit. Returns how many were
 * claimed, or -1 on failure (the transaction rolled back: nothing of it happened; the resource
 * whose announcement failed, if one did, in L->failed_*). */
static int scan(struct sched *L, int i, const char *now, const char *limit) {
    const struct kind *k = &KINDS[i];
    char days[16];
    snprintf(days, sizeof days, "%d", k->days ? *k->days : 0);
    const char *p[] = {now, limit, L->after[i][0] ? L->after[i] : NULL, days};
    L->failed_tenant[0] = '\0';
    PGresult *r = NULL;
    if (!run(L, &st_begin, 0, NULL, NULL)) return -1;
    bool ok = run(L, k->scan, k->days ? 4 : 3, p, &r);
    int n = ok ? PQntuples(r) : 0;
    if (n > BATCH) n = BATCH; /* the scan's LIMIT; never more */
    if (ok) drain_mark(L, i, r, n);
    /* Tenant by tenant: each feed append locks its tenant's feed counter until commit, so every
     * instance takes them in the same order and two schedulers never wait for each other. */
    int order[BATCH];
    for (int j = 0; j < n; j++) order[j] = j;
    sort_rows = r;
    qsort(order, (size_t)n, sizeof order[0], by_tenant);
    for (int j = 0; ok && j < n; j++) {
        ok = announce(L, k, r, order[j]);
        if (!ok) {
            snprintf(L->failed_tenant, sizeof L->failed_tenant, "%s", PQgetvalue(r, order[j], 0));
            snprintf(L->failed_id, sizeof L->failed_id, "%s", PQgetvalue(r, order[j], 1));
            snprintf(L->failed_key, sizeof L->failed_key, "%s", PQgetvalue(r, order[j], 3));
        }
    }
    PQclear(r);
    if (ok && run(L, &st_commit, 0, NULL, NULL)) return n;
    L->after[i][0] = '\0'; /* nothing of the batch happened: the next scan starts from the start */
    if (L->c && db_ok(L->c)) { /* the failure, not the rollback's success, is what is kept */
        char keep[sizeof L->err];
        enum db_fail fail = L->c->fail;
        memcpy(keep, L->err, sizeof keep);
        run(L, &st_rollback, 0, NULL, NULL);
        memcpy(L->err, keep, sizeof keep);
        L->c->fail = fail;
    }
    return -1;
}

/* True if the last failure will come again however often it is retried: a constraint, bad data
 * or a bug, answered by a database that is there (not an outage, a time limit or a deadlock). */
static bool lasting_failure(struct sched *L) {
    return L->c && db_ok(L->c) && (L->c->fail == DBF_CONSTRAINT || L->c->fail == DBF_DATA || L->c->fail == DBF_HARD);
}

/* Records the resource of kind `k` whose announcement failed (L->failed_*, the error in L->err)
 * as set aside, in a transaction of its own, and logs it. false on failure. */
static bool set_aside(struct sched *L, const struct kind *k) {
    char why[sizeof L->err];
    memcpy(why, L->err, sizeof why);
    one_line(why);
    const char *p[] = {L->failed_tenant, k->type, L->failed_id, L->failed_key, why};
    if (!run(L, &st_set_aside, 5, p, NULL)) return false;
    atomic_fetch_add(&set_aside_total, 1);
    log_msg(LOG_ERROR, NULL,
            "time events: %s of %s (tenant %s) set aside, not announced: %s; delete its row in "
            "time_event_occurrences (set_aside is not null) to have it announced",
            k->type, L->failed_id, L->failed_tenant, why);
    return true;
}

/* Kind `i`'s batch failed for good (lasting_failure). Claims one resource at a time, each in its
 * own transaction, until one fails alone: that one is set aside. Returns how many were claimed,
 * or -1 if a claim fails with no resource to blame (the scan itself) or the database goes away. */
static int isolate(struct sched *L, int i, const char *now) {
    char first[sizeof L->err];
    memcpy(first, L->err, sizeof first);
    int done = 0;
    while (done < BATCH && !loop_stopping(&scheduler)) {
        int n = scan(L, i, now, "1");
        if (n == 0) return done; /* everything went through alone */
        if (n < 0) {
            if (L->failed_tenant[0] && lasting_failure(L) && set_aside(L, &KINDS[i])) return done + 1;
            if (!L->failed_tenant[0] && L->c && db_ok(L->c)) memcpy(L->err, first, sizeof first);
            return -1;
        }
        done++;
    }
    return done;
}

/* Seconds until something next becomes due (capped by the idle limit), or -1 on failure. */
static double next_due(struct sched *L, const char *now) {
    char stalled[16], expiring[16], dormant[16];
    snprintf(stalled, sizeof stalled, "%d", cfg.stalled_days);
    snprintf(expiring, sizeof expiring, "%d", cfg.expiring_days);
    snprintf(dormant, sizeof dormant, "%d", cfg.dormant_days);
    const char *p[] = {now, stalled, expiring, dormant};
    PGresult *r;
    if (!run(L, &st_next_due, 4, p, &r)) return -1;
    double cap = cfg.time_events_max_sleep_ms / 1000.0, s = cap;
    if (!PQgetisnull(r, 0, 0)) s = atof(PQgetvalue(r, 0, 0)) + 0.05; /* just past the moment */
    PQclear(r);
    return s < 0.01 ? 0.01 : s > cap ? cap : s;
}

static void *scheduler_main(void *arg) {
    (void)arg;
    struct sched L = {0};
    while (!loop_stopping(&scheduler)) {
        if (!L.c && !(L.c = db_open(false, L.err, sizeof L.err))) {
            nap(db_failed(&L, "cannot connect to the database"));
            continue;
        }
        char now[40], err[sizeof L.err];
        scheduler_now(now, sizeof now);
        bool full = false, failed = false;
        for (int i = 0; i < NKINDS && L.c && !loop_stopping(&scheduler); i++) {
            int n = scan(&L, i, now, BATCH_TEXT);
            if (n < 0 && lasting_failure(&L)) n = isolate(&L, i, now);
            if (n < 0 && !failed) memcpy(err, L.err, sizeof err); /* the first failure is logged */
            failed = failed || n < 0;
            full = full || n == BATCH;
            if (n < 0 && !(L.c && db_ok(L.c))) break; /* the database went away: back off */
        }
        if (failed) {
            memcpy(L.err, err, sizeof err);
            nap(db_failed(&L, "cannot scan for due events"));
            continue;
        }
        if (full) { /* more are due: go on at once */
            db_worked(&L);
            continue;
        }
        double wait = next_due(&L, now);
        if (wait < 0) {
            nap(db_failed(&L, "cannot look for the next due moment"));
            continue;
        }
        db_worked(&L);
        nap(wait);
    }
    db_close(L.c);
    return NULL;
}

int time_events_start(void) {
    metrics_add_source(render_metrics); /* zero too where no scheduler runs */
    if (!cfg.time_events) return 0;
    if (cfg.test_clock_offset_s != 0)
        log_msg(LOG_WARN, NULL, "time events: TEST MODE: the scheduler's clock runs %d s ahead of the real one",
                cfg.test_clock_offset_s);
    if (loop_start(&scheduler, scheduler_main, NULL) == 0) return 0;
    log_msg(LOG_ERROR, NULL, "time events: cannot start the scheduler thread");
    return -1;
}

void time_events_stop(void) {
    loop_stop(&scheduler);
}
