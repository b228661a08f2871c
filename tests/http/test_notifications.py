"""E-mail notifications (issue 14) against a real SMTP receiver: a small SMTP sink in this file
(standard library only: socketserver speaking EHLO/MAIL/RCPT/DATA/QUIT), messages parsed with
`email`. Contacts are made with the contacts API; a row the API would refuse (a kind of the other
side) is written with psql, to show the sender ignores it too."""
import contextlib
import email
import email.policy
import os
import re
import signal
import socketserver
import threading
import time
import urllib.parse
import uuid
from test_time_events import AHEAD_S, World
from lib import (test, expect, expect_status, expect_problem, free_port, new_tenant, psql, wait_until,
                 Client, Server)

BASE = "https://allied.example"


class _Handler(socketserver.StreamRequestHandler):
    def w(self, text):
        try:
            self.wfile.write((text + "\r\n").encode())
        except OSError:  # the client is gone (a test killed the server)
            pass

    def data(self):
        lines = []
        while True:
            line = self.rfile.readline()
            if not line or line in (b".\r\n", b".\n"):
                return b"".join(lines)
            lines.append(line[1:] if line.startswith(b"..") else line)

    def handle(self):
        sink = self.server.sink
        self.w("220 sink ESMTP")
        sender, rcpts = None, []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.decode("utf-8", "replace").strip()
            up = cmd.upper()
            if up.startswith("EHLO"):
                self.w("250-sink\r\n250-8BITMIME\r\n250 SIZE 10000000")
            elif up.startswith("HELO") or up.startswith("NOOP"):
                self.w("250 OK")
            elif up.startswith("MAIL FROM:"):
                sender, rcpts = cmd[10:].strip(), []
                self.w("250 OK")
            elif up.startswith("RCPT TO:"):
                rcpts.append(cmd[8:].strip().strip("<>"))
                self.w("250 OK")
            elif up == "DATA":
                self.w("354 go on")
                raw = self.data()
                sink.add(sender, rcpts, raw)
                sink.release.wait(60)  # a held sink has the message but does not answer yet
                self.w("250 OK queued")
            elif up == "RSET":
                sender, rcpts = None, []
                self.w("250 OK")
            elif up == "QUIT":
                self.w("221 bye")
                return
            else:
                self.w("502 not implemented")


class _TCP(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


class SmtpSink:
    """An SMTP receiver on 127.0.0.1 that keeps every message it accepts."""

    def __init__(self, port=None, start=True):
        self.port = port or free_port()
        self.url = "smtp://127.0.0.1:%d" % self.port
        self.lock = threading.Lock()
        self.messages = []  # (mail from, [rcpt], email.message.EmailMessage)
        self.server = None
        self.release = threading.Event()
        self.release.set()
        if start:
            self.start()

    def start(self):
        self.server = _TCP(("127.0.0.1", self.port), _Handler)
        self.server.sink = self
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, sender, rcpts, raw):
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        with self.lock:
            self.messages.append((sender, list(rcpts), msg))

    def to(self, address):
        with self.lock:
            return [m for (_, r, m) in self.messages if address in r]

    def wait(self, address, n, timeout=15):
        return wait_until(lambda: len(self.to(address)) >= n and self.to(address),
                          lambda: "%s: %d of %d messages" % (address, len(self.to(address)), n), timeout)

    def close(self):
        self.release.set()
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def mail_env(sink_url, **more):
    env = {"ALLIED_SMTP_URL": sink_url, "ALLIED_MAIL_POLL_MS": 50, "ALLIED_MAIL_RETRY_SCALE": 1,
           "ALLIED_PUBLIC_BASE_URL": BASE, "ALLIED_MAIL_FROM": "Allied <allied@mail.example>"}
    env.update(more)
    return env


def addr(tag):
    return "%s-%s@contacts.example" % (tag, uuid.uuid4().hex[:10])


PARTNER_KINDS = {"referral.acknowledged", "referral.engaged", "referral.updated", "referral.won", "referral.lost",
                 "referral.declined", "commission.payable", "invoice.paid"}
TENANT_KINDS = {"referral.submitted", "referral.acknowledgement_overdue", "referral.stalled", "invoice.created",
                "invoice.overdue", "agreement.expiring", "commitment.at_risk"}
CLIENTS = {}  # tenant id -> an admin Client of it (world() registers its own)


def contact(tenant, partner, email_addr, kinds, role="primary", digest="off", name="Casey"):
    """Adds a contact over the API (POST /v1/partners/{id}/contacts or /v1/notification-contacts);
    one the API refuses (kinds of the other side) is inserted directly. Returns its id."""
    c = CLIENTS.get(tenant)
    if c and set(kinds) <= (PARTNER_KINDS if partner else TENANT_KINDS):
        path = "/v1/partners/%s/contacts" % partner if partner else "/v1/notification-contacts"
        r = c.post(path, {"name": name, "email": email_addr, "role": role, "notifications": kinds, "digest": digest})
        expect_status(r, 201)
        return r.json["id"]
    cid = str(uuid.uuid4())
    psql("INSERT INTO contacts (tenant_id, id, partner_id, name, email, role, notifications, digest) VALUES "
         "('%s', '%s', %s, '%s', '%s', '%s', '{%s}', '%s')"
         % (tenant, cid, "'%s'" % partner if partner else "NULL", name.replace("'", "''"), email_addr, role,
            ",".join(kinds), digest))
    return cid


def world(port, partner_name="Pia"):
    tenant, key = new_tenant("mail %d" % os.getpid())
    c = Client(port, key)
    CLIENTS[tenant] = c
    p = c.post("/v1/partners", {"name": partner_name}).json
    return tenant, c, p


def referral(c, p, name="Globex"):
    r = c.post("/v1/referrals", {"partner_id": p["id"], "direction": "inbound",
                                 "prospect": {"name": name, "email": "x@%s.example" % uuid.uuid4().hex[:8]}})
    expect_status(r, 201)
    return r.json


def parts(msg):
    return {p.get_content_type(): p.get_content() for p in msg.walk() if not p.is_multipart()}


def unsubscribe_target(msg):
    m = re.fullmatch(r"<(.*)>", msg["List-Unsubscribe"])
    expect(m, "List-Unsubscribe %r", msg["List-Unsubscribe"])
    url = urllib.parse.urlsplit(m.group(1))
    expect(url.scheme + "://" + url.netloc == BASE, "unsubscribe link on %s", m.group(1))
    return url.path + "?" + url.query


def row_status(cid):
    return psql("SELECT string_agg(status || ':' || attempts, ',' ORDER BY created_at) FROM notifications "
                "WHERE contact_id = '%s'" % cid)


@test
def notifications_reach_the_right_contacts(ctx):
    """an event is mailed once to each contact on its side who wants its kind, with text and HTML parts and one-click unsubscribe"""
    with SmtpSink() as sink, Server(**mail_env(sink.url)) as srv:
        tenant, c, p = world(srv.port, partner_name="Acme <b>&")
        other = c.post("/v1/partners", {"name": "Other"}).json
        billing, sales, owner = addr("billing"), addr("otherpartner"), addr("owner")
        wrong_side, off = addr("wrongside"), addr("off")
        cb = contact(tenant, p["id"], billing, ["referral.acknowledged", "referral.won"], role="billing")
        contact(tenant, other["id"], sales, ["referral.acknowledged"])
        contact(tenant, None, owner, ["referral.submitted"], role="owner", name="Olga")
        contact(tenant, p["id"], wrong_side, ["referral.submitted"])  # a tenant-side kind: never to a partner
        contact(tenant, p["id"], off, [])
        r = referral(c, p)
        expect_status(c.post("/v1/referrals/%s/acknowledge" % r["id"]), 200)
        [sub] = sink.wait(owner, 1)
        [ack] = sink.wait(billing, 1)
        expect("referral.submitted" in sub["Subject"] or "New referral" in sub["Subject"], "subject %r", sub["Subject"])
        body = parts(ack)
        expect(set(body) == {"text/plain", "text/html"}, "parts %r", list(body))
        expect(ack.get_content_type() in ("multipart/alternative", "multipart/mixed"), "type %s", ack.get_content_type())
        why = "because you are the billing contact of Acme <b>& for 'referral.acknowledged'"
        expect(why in body["text/plain"], "text part: %s", body["text/plain"])
        expect("Acme &lt;b&gt;&amp;" in body["text/html"] and "Acme <b>" not in body["text/html"],
               "HTML not escaped: %s", body["text/html"])
        expect(BASE + "/portal/referrals/" + r["id"] in body["text/plain"], "no link back: %s", body["text/plain"])
        expect(ack["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click", "headers %r", dict(ack))
        expect(ack["Message-ID"] and ack["From"] == "Allied <allied@mail.example>", "headers %r", dict(ack))
        expect(BASE + "/v1/referrals/" + r["id"] in parts(sub)["text/plain"], "tenant link: %s", parts(sub)["text/plain"])
        # a barrier: the win reaches the billing contact after everything above was sent
        c.post("/v1/referrals/%s/win" % r["id"], {"deal": {"amount": 100, "currency": "EUR"}})
        sink.wait(billing, 2)
        for a in (sales, wrong_side, off):
            expect(sink.to(a) == [], "%s got mail", a)
        wait_until(lambda: row_status(cb) == "sent:1,sent:1", lambda: "rows: %s" % row_status(cb))
        log = c.get("/v1/notifications?contact_id=" + cb).json["data"]
        expect([(x["type"], x["status"], x["to"], x["attempts"]) for x in log] ==
               [("referral.acknowledged", "sent", billing, 1), ("referral.won", "sent", billing, 1)], "log %r", log)
        expect(all(x["sent_at"] and x["event_cursor"] for x in log), "log %r", log)
        pk = Client(srv.port, c.post("/v1/api-keys", {"role": "partner", "partner_id": other["id"]}).json["key"])
        mine = pk.get("/v1/notifications").json["data"]
        expect(mine == [], "partner key sees another partner's messages: %r", mine)
        ro = Client(srv.port, c.post("/v1/api-keys", {"role": "readonly"}).json["key"])
        expect(len(ro.get("/v1/notifications?status=sent").json["data"]) == 3, "readonly list")


@test
def unsubscribe_stops_one_kind(ctx):
    """the unsubscribe link works without a key, GET changes nothing, POST stops that kind only, and is idempotent"""
    with SmtpSink() as sink, Server(**mail_env(sink.url)) as srv:
        tenant, c, p = world(srv.port)
        a = addr("unsub")
        cid = contact(tenant, p["id"], a, ["referral.acknowledged", "referral.won"])
        r = referral(c, p)
        c.post("/v1/referrals/%s/acknowledge" % r["id"])
        [m] = sink.wait(a, 1)
        target = unsubscribe_target(m)
        anon = Client(srv.port)
        page = anon.get(target)
        expect_status(page, 200)
        expect((page.h("content-type") or "").startswith("text/html") and b'<form method="post"' in page.body,
               "page %r", page)
        kinds = psql("SELECT notifications FROM contacts WHERE id = '%s'" % cid)
        expect(kinds == "{referral.acknowledged,referral.won}", "GET changed the contact: %s", kinds)
        expect_status(anon.req("POST", target, raw=b"List-Unsubscribe=One-Click",
                               ctype="application/x-www-form-urlencoded"), 200)
        expect_status(anon.post(target), 200)  # again: idempotent
        kinds = psql("SELECT notifications FROM contacts WHERE id = '%s'" % cid)
        expect(kinds == "{referral.won}", "after unsubscribe: %s", kinds)
        r2 = referral(c, p)
        c.post("/v1/referrals/%s/acknowledge" % r2["id"])
        c.post("/v1/referrals/%s/win" % r2["id"], {"deal": {"amount": 1, "currency": "EUR"}})
        got = sink.wait(a, 2)
        wait_until(lambda: row_status(cid) == "sent:1,sent:1", lambda: "rows: %s" % row_status(cid))
        expect("referral.won" in parts(got[1])["text/plain"] and len(sink.to(a)) == 2, "messages: %r",
               [x["Subject"] for x in sink.to(a)])
        # bad links: 400, a deleted contact 404, all problem+json
        expect_problem(anon.post("/v1/unsubscribe"), 400, "validation-error", "token")
        expect_problem(anon.get("/v1/unsubscribe?token="), 400, "validation-error", "token")
        expect_problem(anon.post("/v1/unsubscribe?token=not-a-token"), 400, "validation-error", "token")
        tok = target.split("token=", 1)[1]
        forged = tok[:20] + ("A" if tok[20] != "A" else "B") + tok[21:]
        expect_problem(anon.post("/v1/unsubscribe?token=" + forged), 400, "validation-error", "token")
        expect_problem(anon.get("/v1/unsubscribe?token=" + tok + "&x=1"), 400)
        expect_problem(anon.post("/v1/unsubscribe?token=" + "A" * 400), 400, "validation-error", "token")
        psql("DELETE FROM contacts WHERE id = '%s'" % cid)
        expect_problem(anon.post(target), 404, "not-found")
        expect_problem(anon.get(target), 404, "not-found")


@test
def smtp_outage_retries_and_delivers_once(ctx):
    """while the SMTP server is down messages are retried with back-off, then delivered once when it is back"""
    sink = SmtpSink(start=False)
    srv = Server(**mail_env(sink.url))
    try:
        tenant, c, p = world(srv.port)
        a = addr("outage")
        cid = contact(tenant, None, a, ["referral.submitted"])
        referral(c, p)
        referral(c, p)
        wait_until(lambda: psql("SELECT count(*) FROM notifications WHERE contact_id = '%s' AND status = 'queued' "
                                "AND attempts >= 2 AND last_error IS NOT NULL" % cid) == "2",
                   lambda: "rows: %s" % row_status(cid), 20)
        err = psql("SELECT last_error FROM notifications WHERE contact_id = '%s' LIMIT 1" % cid)
        log = Client(srv.port, c.key).get("/v1/notifications?status=queued&contact_id=" + cid).json["data"]
        expect(len(log) == 2 and all(x["last_error"] and x["next_attempt_at"] for x in log), "log %r", log)
        sink.start()
        sink.wait(a, 2, 30)
        wait_until(lambda: psql("SELECT count(*) FROM notifications WHERE contact_id = '%s' AND status = 'sent'"
                                % cid) == "2", lambda: "rows: %s" % row_status(cid), 20)
        ids = [m["Message-ID"] for m in sink.to(a)]
        expect(len(ids) == 2 and len(set(ids)) == 2, "messages %r (first error: %s)", ids, err)
    finally:
        srv.stop()
        sink.close()


@contextlib.contextmanager
def two_senders(sink):
    """Two instances sending to `sink` from the one database."""
    a, b = Server(**mail_env(sink.url)), Server(**mail_env(sink.url))
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


@test
def two_senders_send_each_message_once(ctx):
    """two instances sending from one database send each message exactly once"""
    with SmtpSink() as sink, two_senders(sink) as (a, b):
        tenant, c, p = world(a.port)
        to = addr("twice")
        cid = contact(tenant, None, to, ["referral.submitted"])
        cb = Client(b.port, c.key)
        for i in range(30):
            referral(c if i % 2 else cb, p, "D%d" % i)
        sink.wait(to, 30, 30)
        wait_until(lambda: psql("SELECT count(*) || ':' || sum(attempts) FROM notifications WHERE contact_id = '%s' "
                                "AND status = 'sent'" % cid) == "30:30", lambda: "rows: %s" % row_status(cid), 20)
        ids = [m["Message-ID"] for m in sink.to(to)]
        expect(len(ids) == 30 and len(set(ids)) == 30, "%d messages, %d distinct", len(ids), len(set(ids)))


@test
def daily_digest_is_one_message(ctx):
    """a daily-digest contact gets its events held and then one message listing them all"""
    with SmtpSink() as sink, Server(**mail_env(sink.url)) as srv:
        tenant, c, p = world(srv.port)
        daily, now = addr("daily"), addr("now")
        cd = contact(tenant, None, daily, ["referral.submitted", "referral.won"], digest="daily")
        contact(tenant, None, now, ["referral.submitted"])
        for i in range(3):
            referral(c, p, "Digest%d" % i)
        sink.wait(now, 3)  # the per-event contact's messages went out; the digest is held
        held = psql("SELECT count(*) FROM notifications WHERE contact_id = '%s' AND status = 'queued' AND digest "
                    "AND next_attempt_at > now() + interval '23 hours'" % cd)
        expect(held == "3" and sink.to(daily) == [], "held %s, sent %d", held, len(sink.to(daily)))
        psql("UPDATE notifications SET next_attempt_at = now() WHERE contact_id = '%s'" % cd)  # a day passes
        [m] = sink.wait(daily, 1)
        text = parts(m)["text/plain"]
        expect(all("Digest%d" % i in text for i in range(3)) and "daily" in m["Subject"].lower(), "digest: %s", text)
        expect(m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click", "headers %r", dict(m))
        wait_until(lambda: psql("SELECT count(*) || ':' || count(DISTINCT sent_at) FROM notifications WHERE "
                                "contact_id = '%s' AND status = 'sent'" % cd) == "3:1", lambda: row_status(cd))
        expect(len(sink.to(daily)) == 1, "%d digests", len(sink.to(daily)))
        # the digest's link stops every kind
        expect_status(Client(srv.port).post(unsubscribe_target(m)), 200)
        expect(psql("SELECT notifications FROM contacts WHERE id = '%s'" % cd) == "{}", "still subscribed")


@test
def two_senders_send_each_digest_once(ctx):
    """two instances sending from one database send each contact's due digest once, never split in two"""
    with SmtpSink() as sink, two_senders(sink) as (a, b):
        tenant, c, p = world(a.port)
        cb = Client(b.port, c.key)
        dailies = [addr("daily%d" % i) for i in range(8)]
        cids = [contact(tenant, None, d, ["referral.submitted"], digest="daily", name="D%d" % i)
                for i, d in enumerate(dailies)]
        for i in range(3):
            referral(c if i % 2 else cb, p, "Split%d" % i)
        ids = "'" + "','".join(cids) + "'"
        wait_until(lambda: psql("SELECT count(*) FROM notifications WHERE contact_id IN (%s) AND digest "
                                "AND status = 'queued'" % ids) == "24", "24 held digest rows")
        psql("UPDATE notifications SET next_attempt_at = now() WHERE contact_id IN (%s)" % ids)  # a day passes
        for d in dailies:
            [m] = sink.wait(d, 1)
            text = parts(m)["text/plain"]
            expect(all("Split%d" % i in text for i in range(3)), "%s's digest: %s", d, text)
        wait_until(lambda: psql("SELECT count(*) || ':' || count(DISTINCT (contact_id, sent_at)) FROM notifications "
                                "WHERE contact_id IN (%s) AND status = 'sent'" % ids) == "24:8",
                   lambda: psql("SELECT string_agg(status || '/' || attempts, ' ') FROM notifications "
                                "WHERE contact_id IN (%s)" % ids))
        time.sleep(0.5)  # ten poll intervals of both senders: nothing more goes out
        counts = [len(sink.to(d)) for d in dailies]
        expect(counts == [1] * 8, "digests per contact %r", counts)


@test
def no_smtp_url_sends_nothing(ctx):
    """without ALLIED_SMTP_URL nothing is sent, messages stay queued, and the log says so once"""
    srv = Server(ALLIED_SMTP_URL="")
    try:
        tenant, c, p = world(srv.port)
        cid = contact(tenant, None, addr("nourl"), ["referral.submitted"])
        referral(c, p)
        expect(row_status(cid) == "queued:0", "rows: %s", row_status(cid))
    finally:
        srv.stop()
    lines = [x for x in srv.log_text().splitlines() if "ALLIED_SMTP_URL is not set" in x]
    expect(len(lines) == 1, "log lines: %r", lines)
    psql("UPDATE notifications SET status = 'skipped', last_error = 'test: no SMTP' WHERE contact_id = '%s'" % cid)


@test
def notifications_list_refuses_bad_queries(ctx):
    """GET /v1/notifications refuses bad filters and cursors with 400 problems, and partner keys see only their own"""
    with SmtpSink() as sink, Server(**mail_env(sink.url)) as srv:
        tenant, c, p = world(srv.port)
        a = addr("list")
        cid = contact(tenant, p["id"], a, ["referral.acknowledged"])
        r = referral(c, p)
        c.post("/v1/referrals/%s/acknowledge" % r["id"])
        sink.wait(a, 1)
        for q, field in (("status=bogus", "status"), ("contact_id=nope", "contact_id"), ("limit=0", "limit"),
                         ("cursor=xyz", "cursor"), ("color=red", None)):
            expect_problem(c.get("/v1/notifications?" + q), 400, None, field)
        pk = Client(srv.port, c.post("/v1/api-keys", {"role": "partner", "partner_id": p["id"]}).json["key"])
        mine = pk.get("/v1/notifications").json["data"]
        expect([x["contact_id"] for x in mine] == [cid], "partner key sees %r", mine)
        page = c.get("/v1/notifications?limit=1").json
        expect(len(page["data"]) == 1 and "next_cursor" in page, "page %r", page)
        expect_problem(Client(srv.port).get("/v1/notifications"), 401)


@test
def time_events_are_mailed(ctx):
    """a time-based event (an overdue acknowledgement) is mailed once to the tenant contact who asked for it"""
    with SmtpSink() as sink:
        w = World(ctx.MAIN.port)
        CLIENTS[w.tenant] = w.c
        p = w.partner()
        w.agreement(p)
        to, partner_side = addr("overdue"), addr("partnerside")
        cid = contact(w.tenant, None, to, ["referral.acknowledgement_overdue"], role="sales")
        contact(w.tenant, p["id"], partner_side, ["referral.acknowledgement_overdue"])  # a tenant-side kind
        r = w.referral(p)
        with Server(**mail_env(sink.url, ALLIED_TEST_MODE=1, ALLIED_TEST_CLOCK_OFFSET_S=AHEAD_S,
                               ALLIED_TIME_EVENTS_MAX_SLEEP_MS=200)):
            [m] = sink.wait(to, 1, 20)
            wait_until(lambda: row_status(cid) == "sent:1", lambda: "rows: %s" % row_status(cid))
        text = parts(m)["text/plain"]
        expect(r["id"] in text and "referral.acknowledgement_overdue" in text, "message: %s", text)
        expect(sink.to(partner_side) == [] and len(sink.to(to)) == 1, "partner side got %d, tenant %d",
               len(sink.to(partner_side)), len(sink.to(to)))


@test
def direct_messages_are_sent_as_given(ctx):
    """a direct message (notify_direct: a row with no contact) is sent as given, without an unsubscribe link"""
    with SmtpSink() as sink, Server(**mail_env(sink.url)) as srv:
        tenant, c, p = world(srv.port)
        to = addr("direct")
        # what notify_direct(rq, to, subject, text, html) writes in a request's transaction
        psql("INSERT INTO notifications (tenant_id, type, recipient, subject, body_text, body_html) VALUES "
             "('%s', 'direct', '%s', 'Your sign-in link — Ünïcode', 'Open https://x.example/s', "
             "'<p>Open <a href=\"https://x.example/s\">this</a></p>')" % (tenant, to))
        [m] = sink.wait(to, 1)
        body = parts(m)
        expect(m["Subject"] == "Your sign-in link — Ünïcode", "subject %r", m["Subject"])
        expect(body["text/plain"].strip() == "Open https://x.example/s" and "this</a>" in body["text/html"], "%r", body)
        expect(m["List-Unsubscribe"] is None, "a direct message has no unsubscribe link")
        log = c.get("/v1/notifications?type=direct").json["data"]
        expect([(x["to"], x["status"], x["contact_id"], x["event_cursor"]) for x in log] == [(to, "sent", None, None)],
               "log %r", log)


@test
def sign_in_links_are_emailed(ctx):
    """with SMTP configured a portal sign-in link is e-mailed to the partner (emailed: true) and signs in once; without, emailed is false and nothing is queued"""
    from test_sessions import sign_in
    with SmtpSink() as sink, Server(**mail_env(sink.url)) as srv:
        tenant, c, _ = world(srv.port)
        to = addr("portal")
        p = c.post("/v1/partners", {"name": "Linked", "email": to}).json
        r = c.post("/v1/partners/%s/portal-links" % p["id"], {}, headers={"Idempotency-Key": "link-1"})
        expect(r.status == 201 and r.json["emailed"] is True and r.json["email"] == to, "%r", r)
        again = c.post("/v1/partners/%s/portal-links" % p["id"], {}, headers={"Idempotency-Key": "link-1"})
        expect(again.status == 201 and again.json["url"] is None and again.json["emailed"] is True, "%r", again)
        [m] = sink.wait(to, 1)
        text = parts(m)["text/plain"]
        expect(m["Subject"] == "Your sign-in link" and r.json["url"] in text, "%r %r", m["Subject"], text)
        expect(m["List-Unsubscribe"] is None, "a sign-in link has no unsubscribe link")
        expect(r.json["url"].startswith(BASE + "/portal/sign-in#token="), "%r", r.json["url"])
        b, _ = sign_in(srv.port, r.json)
        expect_status(b.get("/v1/partners/%s" % p["id"]), 200)
        log = c.get("/v1/notifications?type=direct").json["data"]
        expect([(x["to"], x["status"]) for x in log] == [(to, "sent")], "one message, sent: %r", log)
    tenant, c, _ = world(ctx.MAIN.port)
    p = c.post("/v1/partners", {"name": "Unmailed", "email": addr("nomail")}).json
    r = c.post("/v1/partners/%s/portal-links" % p["id"], {})
    expect(r.status == 201 and r.json["emailed"] is False and r.json["url"], "%r", r)
    expect(psql("SELECT count(*) FROM notifications WHERE tenant_id = '%s'" % tenant) == "0", "nothing queued")


@test
def crash_after_sending_sends_again_with_the_same_message_id(ctx):
    """a sender killed after the SMTP server took a message, before recording it, sends it again with the same Message-ID"""
    with SmtpSink() as sink:
        env = mail_env(sink.url, ALLIED_SMTP_TIMEOUT_MS=2000)
        sink.release.clear()  # the sink takes the message but does not answer
        srv = Server(**env)
        try:
            tenant, c, p = world(srv.port)
            to = addr("crash")
            cid = contact(tenant, None, to, ["referral.submitted"])
            referral(c, p)
            sink.wait(to, 1)
            srv.proc.send_signal(signal.SIGKILL)  # the send is not recorded (or recorded as failed)
        finally:
            srv.stop()
        expect(row_status(cid).startswith("queued:"), "rows: %s", row_status(cid))
        sink.release.set()
        with Server(**env):  # after the lease (2 x 2 s + 5 s), the message goes out again
            wait_until(lambda: psql("SELECT status FROM notifications WHERE contact_id = '%s'" % cid) == "sent",
                       lambda: "rows: %s" % row_status(cid), 30)
        got = sink.to(to)
        ids = {m["Message-ID"] for m in got}
        expect(len(got) >= 2 and len(ids) == 1, "%d copies, Message-IDs %r", len(got), ids)
        expect(row_status(cid) == "sent:%d" % len(got), "rows: %s after %d copies", row_status(cid), len(got))
