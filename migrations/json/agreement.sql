-- An agreement (its status and terms come from agreement_status() and the columns, migration 0004).
-- The current definition, applied by `allied migrate` after the numbered migrations whenever this
-- file changes (see server/data/migrate.c). Edit it in place; never redefine these in a numbered migration.

CREATE OR REPLACE FUNCTION agreement_json(a agreements) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT row_to_json(x) FROM (SELECT a.id, a.partner_id, agreement_status(a) AS status, a.direction,
    a.terms, a.inbound_terms, a.outbound_terms, a.starts_on, a.ends_on, a.auto_renew,
    a.stalled_after_days,
    json_build_object(
      'vendor', CASE WHEN a.vendor_signed_at IS NULL THEN NULL ELSE
        json_build_object('signer_name', a.vendor_signer, 'signed_at', api_ts(a.vendor_signed_at)) END,
      'partner', CASE WHEN a.partner_signed_at IS NULL THEN NULL ELSE
        json_build_object('signer_name', a.partner_signer, 'signed_at', api_ts(a.partner_signed_at)) END)
      AS signatures,
    api_ts(a.activated_at) AS activated_at,
    CASE WHEN a.terminates_on IS NULL THEN NULL ELSE
      json_build_object('reason', a.termination_reason, 'effective_on', a.terminates_on) END AS termination,
    a.supersedes_id, a.superseded_by_id, a.version,
    api_ts(a.created_at) AS created_at, api_ts(a.updated_at) AS updated_at) x
$$;
