-- paydesk schema, version 12 (after the plugin registry's 11): a customer's own cap on automatic
-- charges (`stripe_autopay_max_amount`), minor units of the tenant's currency; NULL for none. The
-- tenant-wide cap is a setting (`autopay_max_amount`). Both bound what the daily run charges.
ALTER TABLE customers ADD COLUMN autopay_max_amount INTEGER
    CHECK (autopay_max_amount IS NULL OR autopay_max_amount BETWEEN 1 AND 99999999);
