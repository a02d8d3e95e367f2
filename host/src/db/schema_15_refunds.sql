-- paydesk schema, version 15 (after the observed method's 14): refunds of payment records, kept
-- beside them like disputes. One row per refund and payment record; `id` is the refund record's
-- id (paydesk's idempotency key for Stripe derives from it). `refund_id` is Stripe's `re_…`, NULL
-- while a refund paydesk claimed has no answer yet, and at most one row per payment record has a
-- given one (the same refund recorded twice by two hosts makes one row). `status` is Stripe's name
-- (`pending`, `requires_action`, `succeeded`, `failed`, `canceled`); `observed_at` is Stripe's clock
-- (NULL until Stripe has said anything of it). `fee_part` is the part of `amount` that gives back
-- the processing fee: a `succeeded` row's `amount - fee_part` is owed again (the invoice's amount
-- due adds it). `agent_id` is the agent who asked for it, NULL for a refund made in Stripe's
-- dashboard; it names no row (like a payment's initiator) so removing an agent keeps the history.
-- And the agents' permission "Can Refund Stripe Payments".
CREATE TABLE payment_refunds (
    id               INTEGER PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id),
    payment_id       INTEGER NOT NULL REFERENCES invoice_payments(id),
    invoice_id       INTEGER NOT NULL REFERENCES invoices(id),
    refund_id        TEXT,
    intent_id        TEXT,
    status           TEXT NOT NULL,
    amount           INTEGER NOT NULL CHECK (amount > 0),
    fee_part         INTEGER NOT NULL CHECK (fee_part >= 0 AND fee_part <= amount),
    currency         TEXT NOT NULL,
    failure_reason   TEXT,
    agent_id         INTEGER,
    observed_at      INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE UNIQUE INDEX payment_refunds_stripe_id ON payment_refunds (tenant_id, payment_id, refund_id);
CREATE INDEX payment_refunds_invoice ON payment_refunds (tenant_id, invoice_id);
ALTER TABLE agents ADD COLUMN can_refund_stripe_payments INTEGER NOT NULL DEFAULT 0;

-- And the refund confirmation's email template (287 "Stripe Refund Confirmation") for every tenant
-- made before it; new tenants are seeded with it (`SEEDED_TEMPLATES`).
INSERT INTO email_templates (tenant_id, id, name, subject, body)
SELECT id, 287, 'Stripe Refund Confirmation', 'Refund for invoice $INVOICENUMBER', '<p>Dear $CUSTOMERNAME,</p>' || char(10) || '<p>We refunded $TOTAL of your payment for invoice $INVOICENUMBER, paid with $PAYMENTMETHOD. It may take a few days to appear on your statement.</p>' FROM tenants WHERE true
ON CONFLICT (tenant_id, id) DO NOTHING;
