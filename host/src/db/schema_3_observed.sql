-- paydesk schema, version 3: when a payment's state was observed at Stripe, so an older event never
-- replaces a newer state.

ALTER TABLE invoice_payments ADD COLUMN observed_at INTEGER;
