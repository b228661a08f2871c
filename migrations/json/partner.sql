-- A partner.
-- The current definition, applied by `allied migrate` after the numbered migrations whenever this
-- file changes (see server/data/migrate.c). Edit it in place; never redefine these in a numbered migration.
-- partner_json() is one inlinable expression (LANGUAGE sql, no FROM): row_to_json of a ROW(...) cast
-- to the row type partner_doc, whose attribute names and order are the API's field names and order.
-- CREATE OR REPLACE cannot change a composite type, so the type is dropped and created again;
-- a function body ($$...$$) records no dependency on the type, so the DROP succeeds, and it fails
-- (rather than silently taking something with it, as CASCADE would) if anything else ever uses
-- the type. All of it happens in one transaction: other sessions see the old definitions or the new.
-- To add a field: add it to the type and, at the same position, to ROW(...).

-- 0..100 from the five yes/no qualification answers, NULL while none is answered. One expression, so it
-- is inlined too (answers are validated to be true, false or null).
CREATE OR REPLACE FUNCTION qualification_score(q jsonb) RETURNS int LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN jsonb_typeof(q->'shared_customers') = 'boolean' OR jsonb_typeof(q->'shared_values') = 'boolean'
      OR jsonb_typeof(q->'delivers_on_promises') = 'boolean' OR jsonb_typeof(q->'refers_back') = 'boolean'
      OR jsonb_typeof(q->'reachable') = 'boolean'
    THEN 20 * (coalesce(q->'shared_customers' = 'true', false)::int + coalesce(q->'shared_values' = 'true', false)::int
      + coalesce(q->'delivers_on_promises' = 'true', false)::int + coalesce(q->'refers_back' = 'true', false)::int
      + coalesce(q->'reachable' = 'true', false)::int) END
$$;

DROP TYPE IF EXISTS partner_doc;
CREATE TYPE partner_doc AS (id uuid, name text, company text, email text, phone text, website text,
  kind text, status text, ideal_client text, tags text[], external_id text, metadata jsonb,
  qualification jsonb, qualification_score int, version bigint, created_at text, updated_at text);

CREATE OR REPLACE FUNCTION partner_json(p partners) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT row_to_json(ROW(p.id, p.name, p.company, p.email, p.phone, p.website, p.kind, p.status,
    p.ideal_client, p.tags, p.external_id, p.metadata, p.qualification,
    qualification_score(p.qualification), p.version, api_ts(p.created_at), api_ts(p.updated_at))::partner_doc)
$$;

-- partners.doc (migration 0029) is partner_json(row) as text, so reads return stored text. The
-- trigger keeps it: on INSERT, and on an UPDATE that sets a column the shape shows (UPDATE OF: a
-- referral's insert setting last_referral_at does not rebuild the document). Add a column to
-- partner_doc above, add it here too; tests/http/test_partners.py checks that the list leaves out
-- only tenant_id, doc and last_referral_at, and that every row's doc equals partner_json.
CREATE OR REPLACE FUNCTION partners_set_doc() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.doc := partner_json(NEW)::text;
  RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER partners_doc BEFORE INSERT OR UPDATE OF id, name, company, email, phone, website,
  kind, status, ideal_client, tags, external_id, metadata, qualification, version, created_at, updated_at
  ON partners FOR EACH ROW EXECUTE FUNCTION partners_set_doc();
-- This file runs again whenever it changes: bring every stored document to the shape above.
UPDATE partners p SET doc = partner_json(p)::text WHERE doc IS DISTINCT FROM partner_json(p)::text;
ALTER TABLE partners ALTER COLUMN doc SET NOT NULL;
