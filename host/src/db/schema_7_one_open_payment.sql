-- One open payment attempt per invoice (issue: money moves once). A payment record is open while
-- Stripe may still move money for it without a new attempt: `requires_payment_method` (created,
-- or new details not yet confirmed, or its Stripe answer lost), `requires_action` and `processing`.
-- It closes when it is succeeded, failed or canceled. This index is the claim: a second attempt
-- on an invoice cannot be written while one is open, whichever host, process or plugin logic tries,
-- and a pay-all's records are inserted in one transaction, so it claims all its invoices or none.
--
-- Databases from before this rule may hold several open records of one invoice; the newest keeps
-- the claim, the older ones are marked `opened_before_claims` and left to reconciliation as before.
ALTER TABLE invoice_payments ADD COLUMN opened_before_claims INTEGER NOT NULL DEFAULT 0;
UPDATE invoice_payments SET opened_before_claims = 1
 WHERE status IN ('requires_payment_method', 'requires_action', 'processing')
   AND EXISTS (
       SELECT 1 FROM invoice_payments AS newer
        WHERE newer.tenant_id = invoice_payments.tenant_id
          AND newer.invoice_id = invoice_payments.invoice_id
          AND newer.status IN ('requires_payment_method', 'requires_action', 'processing')
          AND newer.id > invoice_payments.id);
CREATE UNIQUE INDEX invoice_payments_one_open ON invoice_payments (tenant_id, invoice_id)
 WHERE status IN ('requires_payment_method', 'requires_action', 'processing')
   AND opened_before_claims = 0;
