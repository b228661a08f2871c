-- Money limits: every amount stays within MONEY_MAX = 10^15 minor units (server/money.h; ten
-- trillion euros, far above any real deal), and reports add amounts up without overflow.
--
-- The API refuses larger amounts on input (400); these CHECKs are the database's own guard.
-- NOT VALID: rows written before this migration are left as they are (reports cope with them,
-- see below); every new or changed row is checked.

ALTER TABLE referrals ADD CONSTRAINT referrals_deal_amount_max
  CHECK (deal_amount <= 1000000000000000) NOT VALID;
ALTER TABLE commissions ADD CONSTRAINT commissions_amount_max
  CHECK (amount BETWEEN -1000000000000000 AND 1000000000000000) NOT VALID;
ALTER TABLE invoice_lines ADD CONSTRAINT invoice_lines_amount_max
  CHECK (amount BETWEEN -1000000000000000 AND 1000000000000000) NOT VALID;
ALTER TABLE invoices ADD CONSTRAINT invoices_total_max
  CHECK (total <= 1000000000000000) NOT VALID;

-- The fixed amount and the cap of one set of agreement terms (NULL terms pass).
CREATE FUNCTION terms_money_ok(t jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT t IS NULL OR (
    CASE WHEN jsonb_typeof(t->'compensation'->'amount') = 'number'
         THEN (t->'compensation'->>'amount')::numeric BETWEEN 0 AND 1000000000000000 ELSE true END AND
    CASE WHEN jsonb_typeof(t->'compensation'->'cap'->'amount') = 'number'
         THEN (t->'compensation'->'cap'->>'amount')::numeric BETWEEN 0 AND 1000000000000000 ELSE true END)
$$;
COMMENT ON FUNCTION terms_money_ok(jsonb) IS 'Agreement terms: compensation amount and cap within 0..MONEY_MAX (10^15)';
ALTER TABLE agreements ADD CONSTRAINT agreements_terms_money_max
  CHECK (terms_money_ok(terms) AND terms_money_ok(inbound_terms) AND terms_money_ok(outbound_terms)) NOT VALID;

-- A report total as JSON. Totals are numeric (exact, unbounded), so no sum can overflow whatever
-- the number or the order of the rows. JSON numbers beyond 2^53 - 1 lose precision in most
-- clients (JavaScript, and any parser that reads doubles), so such a total is given as
-- {"amount": null, "amount_string": "<exact integer>", "currency": ...} instead: documented in
-- openapi.yaml (ReportMoney), never a failed report.
CREATE FUNCTION report_money(amount numeric, currency text) RETURNS json LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN abs(amount) <= 9007199254740991
    THEN json_build_object('amount', amount, 'currency', currency)
    ELSE json_build_object('amount', NULL, 'amount_string', amount::text, 'currency', currency) END
$$;
COMMENT ON FUNCTION report_money(numeric, text) IS 'A report total: amount when JSON-safe (|x| <= 2^53-1), else amount null and amount_string';

-- As in 0008, with the won value summed as numeric and given by report_money.
CREATE OR REPLACE FUNCTION scorecard_side(n bigint, ack bigint, qual bigint, won bigint, lost bigint, med interval,
                                          won_cur text[], won_amt bigint[])
RETURNS json LANGUAGE sql IMMUTABLE AS $$
  SELECT json_build_object('referrals', n, 'acknowledged', ack, 'qualified', qual, 'won', won, 'lost', lost,
    'conversion_rate', CASE WHEN n > 0 THEN round(won::numeric / n, 4) END,
    'median_hours_to_acknowledge', round(extract(epoch FROM med) / 3600, 2),
    'won_value', (SELECT coalesce(json_agg(report_money(a, c) ORDER BY c), '[]')
                  FROM (SELECT c, sum(a::numeric) AS a FROM unnest(won_cur, won_amt) u(c, a) GROUP BY c) v))
$$;

-- As in 0008, with amounts read and summed as numeric (the grouped sums that feed it are numeric
-- already) and given by report_money.
CREATE OR REPLACE FUNCTION commission_figures(g json) RETURNS json LANGUAGE sql IMMUTABLE AS $$
  WITH com AS (SELECT * FROM json_to_recordset(coalesce(g, '[]')) AS x(kind text, paid boolean, currency text, amount numeric))
  SELECT json_build_object('commissions', json_build_object(
      'payable', json_build_object(
        'owed', coalesce(json_agg(report_money(amount, currency) ORDER BY currency)
                FILTER (WHERE kind = 'payable' AND NOT paid), '[]'),
        'paid', coalesce(json_agg(report_money(amount, currency) ORDER BY currency)
                FILTER (WHERE kind = 'payable' AND paid), '[]')),
      'receivable', json_build_object(
        'owed', coalesce(json_agg(report_money(amount, currency) ORDER BY currency)
                FILTER (WHERE kind = 'receivable' AND NOT paid), '[]'),
        'paid', coalesce(json_agg(report_money(amount, currency) ORDER BY currency)
                FILTER (WHERE kind = 'receivable' AND paid), '[]'))),
    'net_balance', (SELECT coalesce(json_agg(report_money(net, currency) ORDER BY currency), '[]')
      FROM (SELECT currency, sum(CASE WHEN kind = 'payable' THEN amount ELSE -amount END) AS net
            FROM com WHERE NOT paid GROUP BY currency) n))
  FROM com
$$;

-- The grouped sums that feed commission_figures: numeric whatever the column type, so a
-- future change of the column cannot bring an overflow back.
CREATE OR REPLACE FUNCTION tenant_commission_figures(t uuid, lo timestamptz, hi timestamptz)
RETURNS json LANGUAGE sql STABLE AS $$
  SELECT commission_figures(json_agg(x)) FROM (SELECT kind, status = 'paid' AS paid, currency,
      sum(amount::numeric) AS amount
    FROM commissions WHERE tenant_id = t AND created_at >= lo AND created_at < hi
      AND status <> 'reversed' GROUP BY 1, 2, 3) x
$$;
