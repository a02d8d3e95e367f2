-- paydesk schema for PostgreSQL, version 7 (after the disputes' 6; the SQLite schema's version 14,
-- the same rule): when Stripe showed a customer's automatic payment method as it is now (Stripe's
-- clock, Unix seconds; NULL when set without an observation), so that an older change made on
-- Stripe's side never replaces a newer one; and an index to find the customers whose automatic
-- method is a given payment method (Stripe's payment_method.* events).
ALTER TABLE customers ADD COLUMN stripe_payment_method_observed_at BIGINT;
CREATE INDEX customers_automatic_method ON customers (tenant_id, stripe_payment_method_id);
