-- paydesk schema for PostgreSQL, version 5 (after the plugin registry's 4): a customer's own cap
-- on automatic charges (the SQLite schema's version 12, the same rule), minor units of the
-- tenant's currency; NULL for none.
ALTER TABLE customers ADD COLUMN autopay_max_amount BIGINT
    CHECK (autopay_max_amount IS NULL OR autopay_max_amount BETWEEN 1 AND 99999999);
