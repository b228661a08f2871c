-- People sign in without passwords (issue 15): a one-time sign-in link, made by a staff key (for a
-- partner's person) or an admin key (for a staff member), becomes a browser session whose cookie
-- the API accepts exactly where it accepts a key of the same role. Links and session cookies are
-- stored only as SHA-256 hashes; sessions are rows here, so any instance serves any session.

CREATE TABLE portal_links (
  tenant_id   uuid NOT NULL REFERENCES tenants(id),
  id          uuid NOT NULL,
  token_hash  text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  role        text NOT NULL CHECK (role IN ('admin', 'staff', 'partner', 'readonly')),
  partner_id  uuid,
  contact_id  uuid,
  email       text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
  created_by  uuid NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, partner_id) REFERENCES partners (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id) ON DELETE CASCADE,
  CONSTRAINT portal_links_partner_role CHECK ((role = 'partner') = (partner_id IS NOT NULL))
);
COMMENT ON TABLE portal_links IS 'One-time sign-in links (POST /v1/partners/{id}/portal-links, POST /v1/staff-links)';
COMMENT ON COLUMN portal_links.token_hash IS 'Hex SHA-256 of the link''s token (the token itself is never stored)';
COMMENT ON COLUMN portal_links.created_by IS 'The API key or session that made the link';
COMMENT ON COLUMN portal_links.used_at IS 'When the link was exchanged for a session; a link works once';
CREATE INDEX portal_links_age ON portal_links (expires_at);

CREATE TABLE portal_sessions (
  tenant_id      uuid NOT NULL REFERENCES tenants(id),
  id             uuid NOT NULL,
  link_id        uuid NOT NULL,
  role           text NOT NULL CHECK (role IN ('admin', 'staff', 'partner', 'readonly')),
  partner_id     uuid,
  email          text NOT NULL,
  token_hash     text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  previous_hash  text UNIQUE CHECK (previous_hash ~ '^[0-9a-f]{64}$'),
  previous_until timestamptz,
  csrf_token     text NOT NULL CHECK (length(csrf_token) = 43),
  created_at     timestamptz NOT NULL DEFAULT now(),
  last_seen_at   timestamptz NOT NULL DEFAULT now(),
  rotated_at     timestamptz NOT NULL DEFAULT now(),
  expires_at     timestamptz NOT NULL,
  revoked_at     timestamptz,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, link_id) REFERENCES portal_links (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, partner_id) REFERENCES partners (tenant_id, id) ON DELETE CASCADE,
  CONSTRAINT portal_sessions_partner_role CHECK ((role = 'partner') = (partner_id IS NOT NULL))
);
COMMENT ON TABLE portal_sessions IS 'Browser sessions: the cookie allied_session authenticates as its role (and partner)';
COMMENT ON COLUMN portal_sessions.token_hash IS 'Hex SHA-256 of the current cookie value';
COMMENT ON COLUMN portal_sessions.previous_hash IS 'Hex SHA-256 of the cookie value replaced by the last rotation';
COMMENT ON COLUMN portal_sessions.previous_until IS 'The replaced value works until then; NULL while the new value was never presented';
COMMENT ON COLUMN portal_sessions.csrf_token IS 'Sent back in X-CSRF-Token by every state-changing request of the session';
COMMENT ON COLUMN portal_sessions.last_seen_at IS 'Last use (written at most every minute): the idle expiry counts from it';
COMMENT ON COLUMN portal_sessions.expires_at IS 'The absolute expiry, whatever the use';
COMMENT ON COLUMN portal_sessions.revoked_at IS 'Signed out (DELETE /v1/session): the cookie is refused from then on';
CREATE INDEX portal_sessions_age ON portal_sessions (expires_at);

ALTER TABLE portal_links ENABLE ROW LEVEL SECURITY;
ALTER TABLE portal_links FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON portal_links
  USING (tenant_id = (SELECT allied_tenant()) OR (SELECT allied_unscoped()));
ALTER TABLE portal_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE portal_sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON portal_sessions
  USING (tenant_id = (SELECT allied_tenant()) OR (SELECT allied_unscoped()));

-- Exchanges a link for a session (POST /v1/sessions, before any tenant is known). Answers state
-- 'ok' with the new session's identity (and sets the tenant for this transaction only), or
-- 'expired' / 'used' for a link past its time; no row for an unknown token.
CREATE FUNCTION allied_session_start(p_link_hash text, p_session uuid, p_token_hash text, p_csrf text,
                                     p_absolute_s int)
RETURNS TABLE (state text, session_tenant uuid, session_role text, session_partner uuid)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET allied.scope = 'all'
AS $$
DECLARE l record;
BEGIN
  SELECT * INTO l FROM portal_links WHERE token_hash = p_link_hash FOR UPDATE;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  IF l.used_at IS NOT NULL THEN
    state := 'used';
  ELSIF l.expires_at <= now() THEN
    state := 'expired';
  ELSIF EXISTS (SELECT 1 FROM tenants t WHERE t.id = l.tenant_id AND t.status = 'suspended') THEN
    state := 'suspended';
  ELSE
    UPDATE portal_links SET used_at = now() WHERE tenant_id = l.tenant_id AND id = l.id;
    INSERT INTO portal_sessions (tenant_id, id, link_id, role, partner_id, email, token_hash, csrf_token, expires_at)
      VALUES (l.tenant_id, p_session, l.id, l.role, l.partner_id, l.email, p_token_hash, p_csrf,
              now() + make_interval(secs => p_absolute_s));
    PERFORM set_config('allied.tenant_id', l.tenant_id::text, true);
    state := 'ok'; session_tenant := l.tenant_id; session_role := l.role; session_partner := l.partner_id;
  END IF;
  RETURN NEXT;
END $$;
COMMENT ON FUNCTION allied_session_start(text, uuid, text, text, int) IS
  'Exchanges a live sign-in link (by its hash) for a new session; state ok/used/expired/suspended; sets the tenant';
REVOKE ALL ON FUNCTION allied_session_start(text, uuid, text, text, int) FROM PUBLIC;

-- Request-path session lookup by the hash of the cookie value: the session's identity when it is
-- live (state 'ok', and the tenant is set for this transaction only), else state 'expired',
-- 'idle' or 'signed-out'; no row for an unknown value. Marks the session seen (at most every
-- p_touch_s seconds) and rotates its value when p_rotate_s have passed since the last rotation:
-- the new value (p_new_hash) becomes current and `rotated` says the caller must send it. The value
-- it replaces keeps working until the new one is first presented, then for p_grace_s more — so a
-- reply that never reached the browser costs nothing.
CREATE FUNCTION allied_session_authenticate(p_hash text, p_new_hash text, p_idle_s int, p_touch_s int,
                                            p_rotate_s int, p_grace_s int)
RETURNS TABLE (state text, session_id uuid, session_tenant uuid, session_role text, session_partner uuid,
               session_csrf text, session_expires timestamptz, tenant_suspended boolean,
               tenant_rate integer, rotated boolean)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET allied.scope = 'all'
AS $$
DECLARE s record; is_current boolean := true;
BEGIN
  SELECT * INTO s FROM portal_sessions WHERE token_hash = p_hash;
  IF NOT FOUND THEN
    is_current := false;
    SELECT * INTO s FROM portal_sessions
      WHERE previous_hash = p_hash AND (previous_until IS NULL OR previous_until > now());
    IF NOT FOUND THEN
      RETURN;
    END IF;
  END IF;
  session_id := s.id;
  state := CASE WHEN s.revoked_at IS NOT NULL THEN 'signed-out' WHEN s.expires_at <= now() THEN 'expired'
                WHEN s.last_seen_at + make_interval(secs => p_idle_s) <= now() THEN 'idle' ELSE 'ok' END;
  IF state <> 'ok' THEN
    RETURN NEXT;
    RETURN;
  END IF;
  rotated := false;
  IF s.rotated_at <= now() - make_interval(secs => p_rotate_s) AND (is_current OR s.previous_until IS NULL) THEN
    UPDATE portal_sessions SET token_hash = p_new_hash, rotated_at = now(), last_seen_at = now(),
        previous_hash = CASE WHEN is_current THEN token_hash ELSE previous_hash END, previous_until = NULL
      WHERE tenant_id = s.tenant_id AND id = s.id AND rotated_at <= now() - make_interval(secs => p_rotate_s)
        AND (token_hash = p_hash OR (previous_hash = p_hash AND previous_until IS NULL));
    rotated := FOUND;
  END IF;
  IF NOT rotated AND ((is_current AND s.previous_hash IS NOT NULL AND s.previous_until IS NULL)
                      OR s.last_seen_at <= now() - make_interval(secs => p_touch_s)) THEN
    UPDATE portal_sessions SET last_seen_at = now(),
        previous_until = CASE WHEN is_current AND previous_hash IS NOT NULL
                              THEN coalesce(previous_until, now() + make_interval(secs => p_grace_s))
                              ELSE previous_until END
      WHERE tenant_id = s.tenant_id AND id = (SELECT id FROM portal_sessions
        WHERE tenant_id = s.tenant_id AND id = s.id FOR UPDATE SKIP LOCKED);
  END IF;
  PERFORM set_config('allied.tenant_id', s.tenant_id::text, true);
  SELECT t.status = 'suspended', coalesce(t.rate_per_second, 0) INTO tenant_suspended, tenant_rate
    FROM tenants t WHERE t.id = s.tenant_id;
  session_tenant := s.tenant_id; session_role := s.role; session_partner := s.partner_id;
  session_csrf := s.csrf_token; session_expires := s.expires_at;
  RETURN NEXT;
END $$;
COMMENT ON FUNCTION allied_session_authenticate(text, text, int, int, int, int) IS
  'Request-path session lookup by cookie hash: identity and tenant state if live (state ok/expired/idle/signed-out); '
  'marks it seen, rotates its value when due; sets the tenant transaction-locally';
REVOKE ALL ON FUNCTION allied_session_authenticate(text, text, int, int, int, int) FROM PUBLIC;
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'allied_app') THEN
    GRANT EXECUTE ON FUNCTION allied_session_start(text, uuid, text, text, int) TO allied_app;
    GRANT EXECUTE ON FUNCTION allied_session_authenticate(text, text, int, int, int, int) TO allied_app;
  END IF;
END $$;
