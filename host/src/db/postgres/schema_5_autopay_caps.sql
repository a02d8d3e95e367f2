-- paydesk schema for PostgreSQL, version 5 (after the plugin registry's 4): a customer's own cap
-- on automatic charges (the SQLite schema's version 12, the same rule), minor units of the
-- tenant's currency; NULL for none.
ALTER TABLE customers ADD COLUMN autopay_max_amount BIGINT
    CHECK (autopay_max_amount IS NULL OR autopay_max_amount BETWEEN 1 AND 99999999);

-- And the expiring card reminder's email template (286 "Stripe Card Expiring", issue 17 item 6) for
-- every tenant made before it; new tenants are seeded with it (`SEEDED_TEMPLATES`).
INSERT INTO email_templates (tenant_id, id, name, subject, body)
SELECT id, 286, 'Stripe Card Expiring', 'Your card $PAYMENTMETHOD expires soon', '<p>Dear $CUSTOMERNAME,</p>' || chr(10) || '<p>The card we charge your invoices to automatically, $PAYMENTMETHOD, expires at the end of $EXPIRY. Please add a new payment method before then, so that your next payment goes through.</p>' || chr(10) || '<p>$PORTALLINK</p>' FROM tenants WHERE true
ON CONFLICT (tenant_id, id) DO NOTHING;
