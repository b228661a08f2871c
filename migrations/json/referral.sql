-- A referral (every referral answer, list and workflow step).
-- The current definition, applied by `allied migrate` after the numbered migrations whenever this
-- file changes (see server/data/migrate.c). Edit it in place; never redefine these in a numbered migration.
-- referral_json() is one inlinable expression (LANGUAGE sql, no FROM): row_to_json of a ROW(...) cast
-- to the row type referral_doc, whose attribute names and order are the API's field names and order.
-- CREATE OR REPLACE cannot change a composite type, so the type is dropped and created again;
-- a function body ($$...$$) records no dependency on the type, so the DROP succeeds, and it fails
-- (rather than silently taking something with it, as CASCADE would) if anything else ever uses
-- the type. All of it happens in one transaction: other sessions see the old definitions or the new.
-- To add a field: add it to the type and, at the same position, to ROW(...).

DROP TYPE IF EXISTS referral_doc;
CREATE TYPE referral_doc AS (id uuid, partner_id uuid, agreement_id uuid, direction text, status text,
  prospect jsonb, stage text, deal json, attributions jsonb, client_discount_bps integer,
  close_reason text, close_note text, override_reason text, external_id text, acknowledge_by text,
  acknowledged_at text, overdue boolean, closed_at text, version bigint, created_at text, updated_at text);

CREATE OR REPLACE FUNCTION referral_json(r referrals) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT row_to_json(ROW(r.id, r.partner_id, r.agreement_id, r.direction, r.status, r.prospect, r.stage,
    CASE WHEN r.deal_amount IS NULL THEN NULL ELSE
      json_build_object('amount', r.deal_amount, 'currency', r.deal_currency) END,
    r.attributions, r.client_discount_bps, r.close_reason, r.close_note, r.override_reason, r.external_id,
    api_ts(r.acknowledge_by), api_ts(r.acknowledged_at), (r.status = 'submitted' AND r.acknowledge_by < now()),
    api_ts(r.closed_at), r.version, api_ts(r.created_at), api_ts(r.updated_at))::referral_doc)
$$;
