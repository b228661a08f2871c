-- A partner's API document, stored with the row (issue 12). row_to_json of the partner's 17 fields
-- costs PostgreSQL about 7 µs a row (type lookups per column per row), so a page of 50 partners
-- spent most of its time building JSON: a list read of stored text runs about 3x faster (pgbench,
-- same query, 60 partners). The column is filled by a trigger from partner_json(), which stays the
-- one definition of the shape: migrations/json/partner.sql creates the trigger and refills every
-- row whenever the shape changes, then makes the column NOT NULL.
ALTER TABLE partners ADD COLUMN doc text;
COMMENT ON COLUMN partners.doc IS
  'partner_json(row) as text, kept by the trigger partners_doc (migrations/json/partner.sql); what GET and lists return';
