-- The Python host's database. Every row carries its tenant id and every statement filters on it.
-- The invariants live here: unique keys, versions checked in the UPDATE itself, transactions.

CREATE TABLE IF NOT EXISTS tenants (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    settings           TEXT NOT NULL,                 -- JSON, keys are the helpdesk API names
    stripe_secret_key  TEXT,                          -- write-only secret
    webhook_secret     TEXT,                          -- write-only secret (whsec_…)
    invoice_mailbox    TEXT NOT NULL                  -- From of payment emails
);

CREATE TABLE IF NOT EXISTS customers (
    id                          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id                   TEXT NOT NULL REFERENCES tenants(id),
    name                        TEXT NOT NULL,
    accounts_email              TEXT,
    accounts_cc_email           TEXT,
    stripe_customer_id          TEXT,
    stripe_payment_method_id    TEXT,
    stripe_payment_method_name  TEXT,
    stripe_sync_error           TEXT,
    UNIQUE (tenant_id, stripe_customer_id)
);

-- When Stripe showed a customer's automatic payment method as it is now (Stripe's clock), so that
-- an older change made on Stripe's side never replaces a newer one; and the index that finds the
-- customers whose automatic method is a given payment method.
CREATE TABLE IF NOT EXISTS customer_method_observed (
    tenant_id    TEXT NOT NULL,
    customer_id  INTEGER NOT NULL REFERENCES customers(id),
    observed_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, customer_id)
);
CREATE INDEX IF NOT EXISTS customers_automatic_method ON customers (tenant_id, stripe_payment_method_id);

CREATE TABLE IF NOT EXISTS users (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id             TEXT NOT NULL REFERENCES tenants(id),
    customer_id           INTEGER NOT NULL REFERENCES customers(id),
    name                  TEXT NOT NULL,
    email                 TEXT NOT NULL,
    invoice_access_level  TEXT NOT NULL CHECK (invoice_access_level IN ('none', 'addressed-to-user', 'customer')),
    UNIQUE (tenant_id, email)
);

CREATE TABLE IF NOT EXISTS agents (
    id                                  INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id                           TEXT NOT NULL REFERENCES tenants(id),
    name                                TEXT NOT NULL,
    email                               TEXT NOT NULL,
    can_receive_manual_stripe_payments  INTEGER NOT NULL DEFAULT 0,
    is_admin                            INTEGER NOT NULL DEFAULT 0,
    UNIQUE (tenant_id, email)
);

CREATE TABLE IF NOT EXISTS invoices (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id             TEXT NOT NULL REFERENCES tenants(id),
    number                TEXT NOT NULL,
    customer_id           INTEGER NOT NULL REFERENCES customers(id),
    user_id               INTEGER REFERENCES users(id),
    currency              TEXT NOT NULL,
    issue_date            TEXT NOT NULL,
    due_date              TEXT NOT NULL,
    recurring_invoice_id  INTEGER,                    -- the helpdesk's schedule that generated it
    status                TEXT NOT NULL CHECK (status IN ('awaiting-payment', 'paid', 'void')),
    UNIQUE (tenant_id, number)
);

CREATE TABLE IF NOT EXISTS invoice_lines (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id          TEXT NOT NULL REFERENCES tenants(id),
    invoice_id         INTEGER NOT NULL REFERENCES invoices(id),
    description        TEXT NOT NULL,
    amount             INTEGER NOT NULL,
    is_processing_fee  INTEGER NOT NULL DEFAULT 0,
    payment_id         INTEGER UNIQUE REFERENCES invoice_payments(id)   -- one fee line per payment
);

CREATE TABLE IF NOT EXISTS invoice_payments (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id            TEXT NOT NULL REFERENCES tenants(id),
    invoice_id           INTEGER NOT NULL REFERENCES invoices(id),
    group_id             TEXT NOT NULL,
    intent_id            TEXT,
    status               TEXT NOT NULL,
    method               TEXT,
    method_type          TEXT,
    amount               INTEGER NOT NULL,
    fee                  INTEGER NOT NULL,
    currency             TEXT NOT NULL,
    initiator_kind       TEXT NOT NULL CHECK (initiator_kind IN ('agent', 'portal-user', 'autopay')),
    initiator_id         INTEGER,
    attempt              INTEGER NOT NULL,
    failure_reason       TEXT,
    failure_code         TEXT,
    last_event_id        TEXT,
    webhook_payload      TEXT,
    webhook_received_at  INTEGER,
    observed_at          INTEGER,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    version              INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS invoice_payments_invoice ON invoice_payments (tenant_id, invoice_id);
CREATE INDEX IF NOT EXISTS invoice_payments_intent ON invoice_payments (tenant_id, intent_id);
CREATE INDEX IF NOT EXISTS invoice_payments_group ON invoice_payments (tenant_id, group_id);

CREATE TABLE IF NOT EXISTS email_templates (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id),
    id         INTEGER NOT NULL,
    name       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE IF NOT EXISTS email_outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    dedup_key   TEXT,
    from_addr   TEXT NOT NULL,
    to_addrs    TEXT NOT NULL,                         -- JSON array
    cc_addrs    TEXT NOT NULL,                         -- JSON array
    subject     TEXT NOT NULL,
    html        TEXT NOT NULL,
    text        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (tenant_id, dedup_key)
);

CREATE TABLE IF NOT EXISTS plugin_kv (
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    key         TEXT NOT NULL,
    value       BLOB NOT NULL,
    version     INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    at          INTEGER NOT NULL,
    invoice_id  INTEGER,
    action      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    amount      INTEGER,
    currency    TEXT
);
