-- Commissions (what a won referral earns), split credit, clawbacks, and the invoices that settle them.

ALTER TABLE referrals
  ADD COLUMN attributions jsonb CHECK (attributions IS NULL OR jsonb_typeof(attributions) = 'array'),
  ADD COLUMN client_discount_bps int CHECK (client_discount_bps BETWEEN 0 AND 10000);
COMMENT ON COLUMN referrals.attributions IS 'Split credit [{partner_id, share_bps}] summing to 10000; NULL = all to partner_id';
COMMENT ON COLUMN referrals.client_discount_bps IS 'Discount the receiver honours for the client (compensation model none), set at win';

CREATE OR REPLACE FUNCTION referral_json(r referrals) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT row_to_json(x) FROM (SELECT r.id, r.partner_id, r.agreement_id, r.direction, r.status,
    r.prospect, r.stage,
    CASE WHEN r.deal_amount IS NULL THEN NULL ELSE
      json_build_object('amount', r.deal_amount, 'currency', r.deal_currency) END AS deal,
    r.attributions, r.client_discount_bps,
    r.close_reason, r.close_note, r.override_reason, r.external_id,
    api_ts(r.acknowledge_by) AS acknowledge_by, api_ts(r.acknowledged_at) AS acknowledged_at,
    (r.status = 'submitted' AND r.acknowledge_by < now()) AS overdue,
    api_ts(r.closed_at) AS closed_at, r.version,
    api_ts(r.created_at) AS created_at, api_ts(r.updated_at) AS updated_at) x
$$;

CREATE TABLE invoices (
  tenant_id          uuid NOT NULL REFERENCES tenants(id),
  id                 uuid NOT NULL,
  number             text NOT NULL,
  partner_id         uuid NOT NULL,
  kind               text NOT NULL CHECK (kind IN ('payable', 'receivable')),
  status             text NOT NULL DEFAULT 'submitted'
                       CHECK (status IN ('submitted', 'approved', 'paid', 'rejected', 'void')),
  currency           text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  total              bigint NOT NULL CHECK (total >= 0),
  issued_on          date NOT NULL,
  due_on             date NOT NULL,
  paid_at            timestamptz,
  payment_reference  text,
  rejection_reason   text,
  version            bigint NOT NULL DEFAULT 1,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  CONSTRAINT invoices_number_unique UNIQUE (tenant_id, number),
  FOREIGN KEY (tenant_id, partner_id) REFERENCES partners(tenant_id, id),
  CHECK ((status = 'paid') = (paid_at IS NOT NULL))
);
COMMENT ON TABLE invoices IS 'Settles commissions of one partner, one kind, one currency';
COMMENT ON COLUMN invoices.number IS 'INV-YYYY-NNNNNN, gapless per tenant and year (invoice_counters)';
COMMENT ON COLUMN invoices.total IS 'Sum of the lines in minor units; never negative';
CREATE INDEX invoices_page ON invoices (tenant_id, created_at, id);
CREATE INDEX invoices_partner ON invoices (tenant_id, partner_id);

-- The counter row is locked by the invoice's transaction until it commits or rolls back, so a
-- number is used exactly once and a rolled-back invoice leaves no gap.
CREATE TABLE invoice_counters (
  tenant_id  uuid NOT NULL REFERENCES tenants(id),
  year       int NOT NULL,
  last       int NOT NULL,
  PRIMARY KEY (tenant_id, year)
);
COMMENT ON TABLE invoice_counters IS 'Last invoice number per tenant and year';

CREATE TABLE commissions (
  tenant_id        uuid NOT NULL REFERENCES tenants(id),
  id               uuid NOT NULL,
  referral_id      uuid NOT NULL,
  partner_id       uuid NOT NULL,
  agreement_id     uuid,
  kind             text NOT NULL CHECK (kind IN ('payable', 'receivable')),
  type             text NOT NULL CHECK (type IN ('commission', 'adjustment')),
  amount           bigint NOT NULL,
  currency         text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  share_bps        int NOT NULL CHECK (share_bps BETWEEN 1 AND 10000),
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'invoiced', 'paid', 'reversed')),
  payable_at       timestamptz NOT NULL,
  invoice_id       uuid,
  reverses_id      uuid,
  reversed_by_id   uuid,
  reversal_reason  text,
  reversed_at      timestamptz,
  version          bigint NOT NULL DEFAULT 1,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, referral_id) REFERENCES referrals(tenant_id, id),
  FOREIGN KEY (tenant_id, partner_id) REFERENCES partners(tenant_id, id),
  FOREIGN KEY (tenant_id, agreement_id) REFERENCES agreements(tenant_id, id),
  FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices(tenant_id, id),
  FOREIGN KEY (tenant_id, reverses_id) REFERENCES commissions(tenant_id, id),
  CHECK (CASE WHEN type = 'commission' THEN amount > 0 AND reverses_id IS NULL
              ELSE amount < 0 AND reverses_id IS NOT NULL END),
  CHECK ((status = 'invoiced') <= (invoice_id IS NOT NULL)),
  CHECK (status <> 'reversed' OR (reversed_at IS NOT NULL AND type = 'commission'))
);
COMMENT ON TABLE commissions IS 'What a won referral earns a partner (payable) or owes us (receivable); adjustments claw back paid ones';
COMMENT ON COLUMN commissions.status IS 'Stored state; pending becomes payable at payable_at (derived at read time)';
COMMENT ON COLUMN commissions.payable_at IS 'Won time + holding_days: the refund window';
COMMENT ON COLUMN commissions.invoice_id IS 'The open or paid invoice carrying it (NULL after rejection/void)';
COMMENT ON COLUMN commissions.reverses_id IS 'For an adjustment: the paid commission it claws back';
CREATE INDEX commissions_page ON commissions (tenant_id, created_at, id);
CREATE INDEX commissions_partner ON commissions (tenant_id, partner_id, status);
CREATE INDEX commissions_referral ON commissions (tenant_id, referral_id);

CREATE TABLE invoice_lines (
  tenant_id      uuid NOT NULL REFERENCES tenants(id),
  invoice_id     uuid NOT NULL,
  line_no        int NOT NULL,
  commission_id  uuid NOT NULL,
  amount         bigint NOT NULL,
  description    text NOT NULL,
  PRIMARY KEY (tenant_id, invoice_id, line_no),
  FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices(tenant_id, id),
  FOREIGN KEY (tenant_id, commission_id) REFERENCES commissions(tenant_id, id)
);
COMMENT ON TABLE invoice_lines IS 'One line per commission, its amount as invoiced';

ALTER TABLE commissions ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON commissions USING (tenant_id = allied_tenant());
ALTER TABLE invoices ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON invoices USING (tenant_id = allied_tenant());
ALTER TABLE invoice_lines ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON invoice_lines USING (tenant_id = allied_tenant());
ALTER TABLE invoice_counters ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON invoice_counters USING (tenant_id = allied_tenant());

-- Commissions and invoices are announced in the change feed too.
ALTER TABLE feed_events DROP CONSTRAINT feed_events_resource_type_check;
ALTER TABLE feed_events ADD CONSTRAINT feed_events_resource_type_check
  CHECK (resource_type IN ('agreement', 'referral', 'commission', 'invoice'));

CREATE FUNCTION commission_status(c commissions) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN c.status = 'pending' AND c.payable_at <= now() THEN 'payable' ELSE c.status END
$$;

CREATE FUNCTION commission_json(c commissions) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT row_to_json(x) FROM (SELECT c.id, c.referral_id, c.partner_id, c.agreement_id, c.kind, c.type,
    c.amount, c.currency, c.share_bps, commission_status(c) AS status, api_ts(c.payable_at) AS payable_at,
    c.invoice_id, c.reverses_id, c.reversed_by_id, c.reversal_reason, api_ts(c.reversed_at) AS reversed_at,
    c.version, api_ts(c.created_at) AS created_at, api_ts(c.updated_at) AS updated_at) x
$$;

-- invoice_json(): defined once, in migrations/json/invoice.sql (applied after the numbered migrations).
