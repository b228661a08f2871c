-- An invoice with its lines.
-- The current definition, applied by `allied migrate` after the numbered migrations whenever this
-- file changes (see server/data/migrate.c). Edit it in place; never redefine these in a numbered migration.

CREATE OR REPLACE FUNCTION invoice_json(i invoices) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT row_to_json(x) FROM (SELECT i.id, i.number, i.partner_id, i.kind, i.status, i.currency,
    json_build_object('amount', i.total, 'currency', i.currency) AS total,
    i.issued_on, i.due_on,
    (i.status IN ('submitted', 'approved') AND i.due_on < current_date) AS overdue,
    api_ts(i.paid_at) AS paid_at, i.payment_reference, i.rejection_reason,
    (SELECT coalesce(json_agg(json_build_object('line_no', l.line_no, 'commission_id', l.commission_id,
        'description', l.description, 'amount', json_build_object('amount', l.amount, 'currency', i.currency))
        ORDER BY l.line_no), '[]')
     FROM invoice_lines l WHERE l.tenant_id = i.tenant_id AND l.invoice_id = i.id) AS lines,
    i.version, api_ts(i.created_at) AS created_at, api_ts(i.updated_at) AS updated_at) x
$$;
