-- E-mail notifications (issue 14): the outbox of messages to contacts, written in the transaction
-- that appends the feed event (api/feed.c with NOTIFICATION_OUTBOX_INSERT, api/notify/outbox.h),
-- sent by the mail sender (api/notify/sender.c), and the delivery log GET /v1/notifications.

CREATE TABLE notifications (
  tenant_id        uuid NOT NULL REFERENCES tenants(id),
  id               uuid NOT NULL DEFAULT gen_random_uuid(),
  contact_id       uuid,             -- NULL: a direct message (notify_direct), not a contact's event
  partner_id       uuid,             -- the contact's partner (a partner key sees only its own); NULL = tenant side
  feed_seq         bigint,           -- the feed event told about; NULL for a direct message
  type             text NOT NULL CHECK (length(type) BETWEEN 1 AND 100),
  recipient        text NOT NULL CHECK (length(recipient) BETWEEN 3 AND 254),
  digest           boolean NOT NULL DEFAULT false,
  subject          text CHECK (length(subject) <= 998),
  body_text        text,
  body_html        text,
  status           text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed', 'skipped')),
  attempts         int NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  sent_at          timestamptz,
  PRIMARY KEY (tenant_id, id),
  CHECK ((contact_id IS NULL) = (feed_seq IS NULL)),
  CHECK (contact_id IS NOT NULL OR (subject IS NOT NULL AND body_text IS NOT NULL))
);
COMMENT ON TABLE notifications IS 'E-mail outbox and delivery log: one row per (feed event, contact), or a direct message';
COMMENT ON COLUMN notifications.contact_id IS 'The contact told (no foreign key: the log outlives a deleted contact, whose rows are then skipped)';
COMMENT ON COLUMN notifications.type IS 'The feed event type (the notification kind), or direct';
COMMENT ON COLUMN notifications.digest IS 'Held for the contact''s daily digest (contacts.digest = daily when written)';
COMMENT ON COLUMN notifications.next_attempt_at IS 'When the sender may take it next: due time, retry time, or the end of a sender''s lease';
COMMENT ON COLUMN notifications.subject IS 'Direct messages only: their subject and bodies are given; event messages are rendered when sent';
-- Never twice for one event and contact (direct messages have NULLs: each row its own).
CREATE UNIQUE INDEX notifications_once ON notifications (tenant_id, feed_seq, contact_id);
-- The sender's claim: due queued rows, per-event and digest apart.
CREATE INDEX notifications_due ON notifications (digest, next_attempt_at) WHERE status = 'queued';
-- A contact's held digest rows (the fan-out joins an open digest; the sender collects it).
CREATE INDEX notifications_contact ON notifications (tenant_id, contact_id, next_attempt_at) WHERE status = 'queued';
-- The delivery log, newest last, in keyset order.
CREATE INDEX notifications_log ON notifications (tenant_id, created_at, id);
ALTER TABLE notifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE notifications FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON notifications
  USING (tenant_id = (SELECT allied_tenant()) OR (SELECT allied_unscoped()));

-- The key of unsubscribe tokens (api/notify/token.c): HMAC-SHA256 over tenant, contact and kind,
-- so a link works without an API key and no token is stored. Shared by every instance.
ALTER TABLE server_secrets DROP CONSTRAINT server_secrets_name_check;
ALTER TABLE server_secrets ADD CONSTRAINT server_secrets_name_check CHECK (name IN ('cursor', 'unsubscribe'));
COMMENT ON COLUMN server_secrets.name IS 'What the secret is for: cursor = HMAC-SHA256 key of pagination cursors; unsubscribe = of e-mail unsubscribe tokens';
INSERT INTO server_secrets (name, secret)
VALUES ('unsubscribe', sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')));

