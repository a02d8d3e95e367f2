-- paydesk schema, version 13: disputes of payments (Stripe's `charge.dispute.*`), kept beside the
-- payment records rather than as a payment status. One row per dispute and payment record (a
-- PaymentIntent that paid several invoices has a record, and so a row, for each), holding that
-- record's part of the disputed amount in the payment's currency. `status` is Stripe's name
-- (`needs_response`, `won`, `lost`, …); `observed_at` is Stripe's clock (the event's `created`).
-- A `lost` row's amount is owed again: the invoice's amount due adds it.
CREATE TABLE payment_disputes (
    id               INTEGER PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id),
    dispute_id       TEXT NOT NULL,
    payment_id       INTEGER NOT NULL REFERENCES invoice_payments(id),
    invoice_id       INTEGER NOT NULL REFERENCES invoices(id),
    charge_id        TEXT NOT NULL,
    intent_id        TEXT,
    status           TEXT NOT NULL,
    reason           TEXT NOT NULL,
    amount           INTEGER NOT NULL CHECK (amount >= 0),
    currency         TEXT NOT NULL,
    evidence_due_by  INTEGER,
    opened_at        INTEGER NOT NULL,
    observed_at      INTEGER NOT NULL,
    last_event_id    TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE UNIQUE INDEX payment_disputes_one ON payment_disputes (tenant_id, dispute_id, payment_id);
CREATE INDEX payment_disputes_invoice ON payment_disputes (tenant_id, invoice_id);
