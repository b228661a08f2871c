-- Data in and out (GET /v1/export, POST /v1/imports/*): when a tenant last took a full export,
-- and the one privileged step a restore needs.

-- Also added by migration 0017 (operator API); whichever runs first adds it.
ALTER TABLE tenants ADD COLUMN IF NOT EXISTS last_export_at timestamptz;
COMMENT ON COLUMN tenants.last_export_at IS 'When the last complete GET /v1/export of this tenant finished (NULL: never)';

-- A restore (POST /v1/imports/export) inserts referral events with their original ids. Their
-- identity sequence is shared by every tenant: move it past the largest id so that events made
-- afterwards never take a restored id. The server role may only read sequences, hence a definer.
CREATE FUNCTION allied_referral_events_catch_up() RETURNS void LANGUAGE sql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
  SELECT setval(pg_get_serial_sequence('public.referral_events', 'id'),
                greatest((SELECT max(id) FROM public.referral_events),
                         (SELECT last_value FROM public.referral_events_id_seq)))
$$;
COMMENT ON FUNCTION allied_referral_events_catch_up() IS
  'After a restore with original ids: the referral_events id sequence continues past every id in use';
REVOKE ALL ON FUNCTION allied_referral_events_catch_up() FROM PUBLIC;
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'allied_app') THEN
    GRANT EXECUTE ON FUNCTION allied_referral_events_catch_up() TO allied_app;
  END IF;
END $$;
