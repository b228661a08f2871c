-- Agreements: the written terms with a partner, signed by both sides, amended by new versions.

CREATE TABLE agreements (
  tenant_id           uuid NOT NULL REFERENCES tenants(id),
  id                  uuid NOT NULL,
  partner_id          uuid NOT NULL,
  status              text NOT NULL DEFAULT 'draft'
                        CHECK (status IN ('draft', 'active', 'suspended', 'terminated', 'superseded')),
  direction           text NOT NULL CHECK (direction IN ('inbound', 'outbound', 'reciprocal')),
  terms               jsonb,
  inbound_terms       jsonb,
  outbound_terms      jsonb,
  starts_on           date NOT NULL,
  ends_on             date,
  auto_renew          boolean NOT NULL DEFAULT false,
  vendor_signer       text,
  vendor_signed_at    timestamptz,
  partner_signer      text,
  partner_signed_at   timestamptz,
  activated_at        timestamptz,
  termination_reason  text,
  terminates_on       date,
  supersedes_id       uuid,
  superseded_by_id    uuid,
  version             bigint NOT NULL DEFAULT 1,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, partner_id) REFERENCES partners(tenant_id, id),
  FOREIGN KEY (tenant_id, supersedes_id) REFERENCES agreements(tenant_id, id),
  CHECK (ends_on IS NULL OR ends_on > starts_on),
  CHECK (CASE WHEN direction = 'reciprocal'
              THEN terms IS NULL AND inbound_terms IS NOT NULL AND outbound_terms IS NOT NULL
              ELSE terms IS NOT NULL AND inbound_terms IS NULL AND outbound_terms IS NULL END),
  CHECK ((status = 'terminated') = (terminates_on IS NOT NULL))
);
COMMENT ON TABLE agreements IS 'A written agreement with a partner; terms are immutable once signed';
COMMENT ON COLUMN agreements.status IS 'Stored lifecycle state; the API status (agreement_status) also derives signed/expired from dates';
COMMENT ON COLUMN agreements.terms IS 'Terms for inbound/outbound agreements (validated by api/terms.c)';
COMMENT ON COLUMN agreements.terminates_on IS 'Termination effective date: the agreement covers referrals until then';
COMMENT ON COLUMN agreements.supersedes_id IS 'The agreement this amendment replaces once it becomes active';
CREATE INDEX agreements_page ON agreements (tenant_id, created_at, id);
CREATE INDEX agreements_partner ON agreements (tenant_id, partner_id);

ALTER TABLE agreements ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON agreements USING (tenant_id = allied_tenant());

-- The dates an agreement covers: [starts_on, end), where end is the earlier of the termination
-- date and the day after ends_on (unless auto_renew); open-ended when neither applies. A
-- termination before the start gives an empty period.
CREATE FUNCTION agreement_period(a agreements) RETURNS daterange LANGUAGE sql STABLE AS $$
  SELECT daterange(a.starts_on, CASE
    WHEN a.terminates_on IS NULL AND (a.ends_on IS NULL OR a.auto_renew) THEN NULL
    ELSE greatest(a.starts_on, least(a.terminates_on,
                                     CASE WHEN a.ends_on IS NOT NULL AND NOT a.auto_renew THEN a.ends_on + 1 END))
    END, '[)')
$$;

-- The status clients see: stored state plus what the calendar says (no timers). A terminated
-- agreement keeps covering referrals during its notice period (until terminates_on).
CREATE FUNCTION agreement_status(a agreements) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT CASE
    WHEN a.status IN ('draft', 'superseded') THEN a.status
    WHEN a.status = 'terminated' AND (current_date >= a.terminates_on OR a.terminates_on <= a.starts_on)
      THEN 'terminated'
    WHEN a.ends_on IS NOT NULL AND NOT a.auto_renew AND current_date > a.ends_on THEN 'expired'
    WHEN current_date < a.starts_on THEN 'signed'
    WHEN a.status = 'suspended' THEN 'suspended'
    ELSE 'active' END
$$;

-- The terms that apply to one direction of a referral.
CREATE FUNCTION agreement_terms(a agreements, dir text) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN a.direction = 'reciprocal'
              THEN CASE WHEN dir = 'inbound' THEN a.inbound_terms ELSE a.outbound_terms END
              ELSE a.terms END
$$;

-- agreement_json(): defined once, in migrations/json/agreement.sql (applied after the numbered migrations).
