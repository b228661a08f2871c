-- Contacts (migration 0021) are business records like the others: they count against the
-- tenant's max_rows limit (migration 0017), and the usage report's rows name them.

CREATE OR REPLACE FUNCTION tenant_rows(t uuid) RETURNS TABLE (resource text, n bigint) LANGUAGE sql STABLE AS $$
  SELECT 'partners', count(*) FROM partners WHERE tenant_id = t
  UNION ALL SELECT 'agreements', count(*) FROM agreements WHERE tenant_id = t
  UNION ALL SELECT 'referrals', count(*) FROM referrals WHERE tenant_id = t
  UNION ALL SELECT 'commissions', count(*) FROM commissions WHERE tenant_id = t
  UNION ALL SELECT 'invoices', count(*) FROM invoices WHERE tenant_id = t
  UNION ALL SELECT 'webhook_endpoints', count(*) FROM webhook_endpoints WHERE tenant_id = t
  UNION ALL SELECT 'commitments', count(*) FROM commitments WHERE tenant_id = t
  UNION ALL SELECT 'check_ins', count(*) FROM check_ins WHERE tenant_id = t
  UNION ALL SELECT 'contacts', count(*) FROM contacts WHERE tenant_id = t
$$;

CREATE TRIGGER tenant_limits BEFORE INSERT ON contacts
  FOR EACH ROW EXECUTE FUNCTION tenant_limits_check();
