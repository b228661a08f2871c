-- Every instance keeps verified API keys in memory (server/auth_cache.c); a change to a key is
-- announced so that each instance forgets it at once, not after the cache's time limit.
CREATE FUNCTION api_keys_announce() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('allied_key_changes', OLD.id::text);
  RETURN NULL;
END $$;
COMMENT ON FUNCTION api_keys_announce() IS 'NOTIFY allied_key_changes with the id of an updated or deleted key';
CREATE TRIGGER api_keys_announce AFTER UPDATE OR DELETE ON api_keys
  FOR EACH ROW EXECUTE FUNCTION api_keys_announce();
