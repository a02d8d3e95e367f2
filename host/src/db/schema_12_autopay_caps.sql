-- paydesk schema, version 12 (after the plugin registry's 11): a customer's own cap on automatic
-- charges (`stripe_autopay_max_amount`), minor units of the tenant's currency; NULL for none. The
-- tenant-wide cap is a setting (`autopay_max_amount`). Both bound what the daily run charges.
ALTER TABLE customers ADD COLUMN autopay_max_amount INTEGER
    CHECK (autopay_max_amount IS NULL OR autopay_max_amount BETWEEN 1 AND 99999999);

-- And the expiring card reminder's email template (286 "Stripe Card Expiring", issue 17 item 6) for
-- every tenant made before it; new tenants are seeded with it (`SEEDED_TEMPLATES`).
INSERT INTO email_templates (tenant_id, id, name, subject, body)
SELECT id, 286, 'Stripe Card Expiring', 'Your card $PAYMENTMETHOD expires soon', '<p>Dear $CUSTOMERNAME,</p>' || char(10) || '<p>The card we charge your invoices to automatically, $PAYMENTMETHOD, expires at the end of $EXPIRY. Please add a new payment method before then, so that your next payment goes through.</p>' || char(10) || '<p>$PORTALLINK</p>' FROM tenants WHERE true
ON CONFLICT (tenant_id, id) DO NOTHING;
