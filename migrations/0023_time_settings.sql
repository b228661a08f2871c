-- partner.dormant and the per-tenant (and per-agreement) thresholds of time-based events
-- (api/time_events.c; the tenant's own settings: GET/PATCH /v1/settings, api/settings.c).

-- Each NULL = the instance's option (ALLIED_AGREEMENT_EXPIRING_DAYS, ALLIED_STALLED_DAYS,
-- ALLIED_DORMANT_DAYS).
ALTER TABLE tenants
  ADD COLUMN agreement_expiring_days int CHECK (agreement_expiring_days BETWEEN 0 AND 3650),
  ADD COLUMN stalled_after_days int CHECK (stalled_after_days BETWEEN 1 AND 3650),
  ADD COLUMN dormant_after_days int CHECK (dormant_after_days BETWEEN 1 AND 3650);
COMMENT ON COLUMN tenants.agreement_expiring_days IS 'Days before an agreement''s ends_on that agreement.expiring is announced; NULL = ALLIED_AGREEMENT_EXPIRING_DAYS';
COMMENT ON COLUMN tenants.stalled_after_days IS 'Days an engaged referral may go unchanged before referral.stalled, unless its agreement says; NULL = ALLIED_STALLED_DAYS';
COMMENT ON COLUMN tenants.dormant_after_days IS 'Days without a referral before partner.dormant; NULL = ALLIED_DORMANT_DAYS';

ALTER TABLE agreements ADD COLUMN stalled_after_days int CHECK (stalled_after_days BETWEEN 1 AND 3650);
COMMENT ON COLUMN agreements.stalled_after_days IS 'Days an engaged referral under this agreement may go unchanged before referral.stalled; NULL = the tenant''s setting';
-- The stalled scan's lower bound is the smallest threshold in use: min() over this is one probe.
CREATE INDEX agreements_stalled_days ON agreements (stalled_after_days) WHERE stalled_after_days IS NOT NULL;

-- The partner's latest referral, kept by the referral's own insert (trigger below): the dry spell
-- starts there, or at the partner's creation when it never had one.
ALTER TABLE partners ADD COLUMN last_referral_at timestamptz;
COMMENT ON COLUMN partners.last_referral_at IS 'created_at of the partner''s latest referral (NULL: none yet); partner.dormant counts from it';
UPDATE partners p SET last_referral_at = m.at
  FROM (SELECT tenant_id, partner_id, max(created_at) AS at FROM referrals GROUP BY 1, 2) m
  WHERE p.tenant_id = m.tenant_id AND p.id = m.partner_id;

-- In the referral's transaction; the row it writes is the partner's own (which the referral's
-- foreign key already touches), only ever forward (a later-started transaction's value stays).
CREATE FUNCTION referrals_mark_partner() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE partners SET last_referral_at = NEW.created_at
   WHERE tenant_id = NEW.tenant_id AND id = NEW.partner_id
     AND (last_referral_at IS NULL OR last_referral_at < NEW.created_at);
  RETURN NULL;
END $$;
COMMENT ON FUNCTION referrals_mark_partner() IS 'Keeps partners.last_referral_at (partner.dormant) in the referral insert''s transaction';
CREATE TRIGGER referrals_mark_partner AFTER INSERT ON referrals
  FOR EACH ROW EXECUTE FUNCTION referrals_mark_partner();

-- The dormant scan: active partners by the start of their dry spell.
CREATE INDEX partners_dormant_due ON partners ((coalesce(last_referral_at, created_at))) WHERE status = 'active';
