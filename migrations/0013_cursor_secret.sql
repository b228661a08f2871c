-- The key that signs pagination cursors, shared by every instance on this database.

-- Cursors are HMAC-signed so a hand-edited one is refused (400) instead of silently moving the
-- page. Every instance serving this database must accept the others' cursors, so the key lives
-- here, made once at migrate time from PostgreSQL's strong random source (gen_random_uuid), and
-- is read by each process on its first paged list. Rotating it (UPDATE ... SET secret = ...)
-- invalidates outstanding cursors: clients then get 400 and start the listing again.
CREATE TABLE server_secrets (
  name        text PRIMARY KEY CHECK (name IN ('cursor')),
  secret      bytea NOT NULL CHECK (length(secret) BETWEEN 32 AND 64),
  created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE server_secrets IS 'Instance-wide secrets shared by every server process on this database (not tenant data)';
COMMENT ON COLUMN server_secrets.name IS 'What the secret is for: cursor = HMAC-SHA256 key of pagination cursors';
COMMENT ON COLUMN server_secrets.secret IS 'Random key material, 32..64 bytes (made as two random UUIDs hashed with SHA-256: about 244 random bits)';
COMMENT ON COLUMN server_secrets.created_at IS 'When the secret was made (or last rotated)';

INSERT INTO server_secrets (name, secret)
VALUES ('cursor', sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')));

-- The server only reads it.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'allied_app') THEN
    REVOKE ALL ON server_secrets FROM allied_app;
    GRANT SELECT ON server_secrets TO allied_app;
  END IF;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'allied: cannot change grants on server_secrets';
END $$;
