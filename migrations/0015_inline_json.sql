-- Speed: partner_json() (and referral_json(), below) ran as a separate query per row (a SQL function whose body has a FROM is
-- never inlined), 34 us a row against 4 us for row_to_json. Written as single expressions both it
-- and qualification_score() are inlined into the calling query (about 4 us a row); the output is
-- byte for byte the same (qualification answers are validated to be true, false or null).
CREATE OR REPLACE FUNCTION qualification_score(q jsonb) RETURNS int LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN jsonb_typeof(q->'shared_customers') = 'boolean' OR jsonb_typeof(q->'shared_values') = 'boolean'
      OR jsonb_typeof(q->'delivers_on_promises') = 'boolean' OR jsonb_typeof(q->'refers_back') = 'boolean'
      OR jsonb_typeof(q->'reachable') = 'boolean'
    THEN 20 * (coalesce(q->'shared_customers' = 'true', false)::int + coalesce(q->'shared_values' = 'true', false)::int
      + coalesce(q->'delivers_on_promises' = 'true', false)::int + coalesce(q->'refers_back' = 'true', false)::int
      + coalesce(q->'reachable' = 'true', false)::int) END
$$;

-- The partner's API representation as a row type, so that row_to_json (compact output, the field
-- names and order of the API) can be applied to a single ROW(...) expression.
CREATE TYPE partner_doc AS (id uuid, name text, company text, email text, phone text, website text,
  kind text, status text, ideal_client text, tags text[], external_id text, metadata jsonb,
  qualification jsonb, qualification_score int, version bigint, created_at text, updated_at text);

-- partner_json(): defined once, in migrations/json/partner.sql (applied after the numbered migrations).

-- The same for referral_json (every referral answer, list and workflow step).
CREATE TYPE referral_doc AS (id uuid, partner_id uuid, agreement_id uuid, direction text, status text,
  prospect jsonb, stage text, deal json, attributions jsonb, client_discount_bps integer,
  close_reason text, close_note text, override_reason text, external_id text, acknowledge_by text,
  acknowledged_at text, overdue boolean, closed_at text, version bigint, created_at text, updated_at text);

-- referral_json(): defined once, in migrations/json/referral.sql (applied after the numbered migrations).
