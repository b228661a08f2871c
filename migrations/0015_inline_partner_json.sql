-- Speed: partner_json() ran as a separate query per row (a SQL function whose body has a FROM is
-- never inlined), 34 us a row against 4 us for row_to_json. Written as single expressions both it
-- and qualification_score() are inlined into the calling query; output and values are unchanged
-- (qualification answers are validated to be true, false or null).
CREATE OR REPLACE FUNCTION qualification_score(q jsonb) RETURNS int LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN jsonb_typeof(q->'shared_customers') = 'boolean' OR jsonb_typeof(q->'shared_values') = 'boolean'
      OR jsonb_typeof(q->'delivers_on_promises') = 'boolean' OR jsonb_typeof(q->'refers_back') = 'boolean'
      OR jsonb_typeof(q->'reachable') = 'boolean'
    THEN 20 * (coalesce(q->'shared_customers' = 'true', false)::int + coalesce(q->'shared_values' = 'true', false)::int
      + coalesce(q->'delivers_on_promises' = 'true', false)::int + coalesce(q->'refers_back' = 'true', false)::int
      + coalesce(q->'reachable' = 'true', false)::int) END
$$;

CREATE OR REPLACE FUNCTION partner_json(p partners) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT json_build_object('id', p.id, 'name', p.name, 'company', p.company, 'email', p.email,
    'phone', p.phone, 'website', p.website, 'kind', p.kind, 'status', p.status,
    'ideal_client', p.ideal_client, 'tags', p.tags, 'external_id', p.external_id,
    'metadata', p.metadata, 'qualification', p.qualification,
    'qualification_score', qualification_score(p.qualification), 'version', p.version,
    'created_at', api_ts(p.created_at), 'updated_at', api_ts(p.updated_at))
$$;
