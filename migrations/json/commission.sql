-- A commission (status from commission_status(), migration 0006).
-- The current definition, applied by `allied migrate` after the numbered migrations whenever this
-- file changes (see server/data/migrate.c). Edit it in place; never redefine these in a numbered migration.

CREATE OR REPLACE FUNCTION commission_json(c commissions) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT row_to_json(x) FROM (SELECT c.id, c.referral_id, c.partner_id, c.agreement_id, c.kind, c.type,
    c.amount, c.currency, c.share_bps, commission_status(c) AS status, api_ts(c.payable_at) AS payable_at,
    c.invoice_id, c.reverses_id, c.reversed_by_id, c.reversal_reason, api_ts(c.reversed_at) AS reversed_at,
    c.version, api_ts(c.created_at) AS created_at, api_ts(c.updated_at) AS updated_at) x
$$;
