-- Sign-in links and browser sessions (issue 15). A link's JSON never holds its token (the reply
-- that creates it adds the sign-in `url` once); a session's holds its CSRF token, for the pages.
-- The current definition, applied by `allied migrate` after the numbered migrations whenever this
-- file changes (see server/data/migrate.c). Edit it in place; never redefine these in a numbered migration.

CREATE OR REPLACE FUNCTION portal_link_json(l portal_links) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT row_to_json(x) FROM (SELECT l.id, l.role, l.partner_id, l.contact_id, l.email,
    api_ts(l.created_at) AS created_at, api_ts(l.expires_at) AS expires_at, api_ts(l.used_at) AS used_at) x
$$;

-- `p_idle_s`: the instance's idle expiry (ALLIED_SESSION_IDLE_S), for idle_expires_at.
CREATE OR REPLACE FUNCTION portal_session_json(s portal_sessions, p_idle_s int) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT row_to_json(x) FROM (SELECT s.id, s.role, s.partner_id,
    (SELECT p.name FROM partners p WHERE p.tenant_id = s.tenant_id AND p.id = s.partner_id) AS partner_name,
    (SELECT t.name FROM tenants t WHERE t.id = s.tenant_id) AS tenant_name,
    s.email, s.csrf_token, api_ts(s.created_at) AS created_at, api_ts(s.expires_at) AS expires_at,
    api_ts(least(s.expires_at, s.last_seen_at + make_interval(secs => p_idle_s))) AS idle_expires_at) x
$$;
