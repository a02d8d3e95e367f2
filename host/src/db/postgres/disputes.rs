//! Disputes of payment records in PostgreSQL: the same rule and checks as SQLite's
//! (`db::disputes`), decided with the invoice row locked (`FOR UPDATE`, the lock every writer of
//! its payments takes first), so two hosts applying events of one dispute never interleave, and
//! a lost dispute reopens a paid invoice in the transaction that records it. Every statement
//! filters on the tenant id.

use postgres::Row;

use super::invoices::{load_invoice, lock_invoice};
use super::payments::load_payment;
use super::{Begin, PgConn, PgDb};
use crate::contract::{Dispute, DisputeObservation, InvoiceStatus};
use crate::db::disputes::{DISPUTE_COLUMNS, applies, check_observation, dispute_of, owes_again};
use crate::db::names::dispute_status_name;
use crate::db::{DbError, DbResult, DisputeStore, now};
use crate::tenant::TenantId;

fn row(r: &Row) -> DbResult<Dispute> {
    dispute_of(
        |i| Ok(r.try_get(i)?),
        |i| Ok(r.try_get(i)?),
        |i| Ok(r.try_get(i)?),
        |i| Ok(r.try_get(i)?),
    )
}

fn load(
    conn: &mut PgConn,
    tenant: &str,
    dispute_id: &str,
    payment_id: i64,
) -> DbResult<Option<Dispute>> {
    conn.query_opt(
        &format!(
            "SELECT {DISPUTE_COLUMNS} FROM payment_disputes
             WHERE tenant_id = $1 AND dispute_id = $2 AND payment_id = $3"
        ),
        &[&tenant, &dispute_id, &payment_id],
    )?
    .as_ref()
    .map(row)
    .transpose()
}

/// The amounts of an invoice's lost disputes, for its amount due.
pub(super) fn lost_amounts(conn: &mut PgConn, tenant: &str, invoice_id: i64) -> DbResult<Vec<i64>> {
    conn.query(
        "SELECT amount FROM payment_disputes
         WHERE tenant_id = $1 AND invoice_id = $2 AND status = 'lost' ORDER BY id",
        &[&tenant, &invoice_id],
    )?
    .iter()
    .map(|r| Ok(r.try_get(0)?))
    .collect()
}

impl DisputeStore for PgDb {
    fn record_dispute(
        &self,
        tenant: &TenantId,
        o: &DisputeObservation,
    ) -> DbResult<(bool, Dispute)> {
        self.tx(Begin::Write, |tx| {
            let t = tenant.as_str();
            let invoice_id: i64 = tx
                .query_opt(
                    "SELECT invoice_id FROM invoice_payments WHERE tenant_id = $1 AND id = $2",
                    &[&t, &o.payment_id],
                )?
                .ok_or_else(|| DbError::NotFound(format!("payment {}", o.payment_id)))?
                .try_get(0)?;
            // The invoice first, as every writer of its payments locks it: what is read after
            // the lock is what committed before it, and no other host decides meanwhile.
            lock_invoice(tx, t, invoice_id)?;
            let payment = load_payment(tx, t, o.payment_id)?;
            check_observation(&payment, o)?;
            let held = load(tx, t, &o.id, o.payment_id)?;
            let applied = applies(held.as_ref(), o);
            if applied {
                let at = now();
                let status = dispute_status_name(&o.status);
                let currency = payment.amount.currency.to_ascii_lowercase();
                tx.execute(
                    "INSERT INTO payment_disputes (tenant_id, dispute_id, payment_id, invoice_id, charge_id,
                         intent_id, status, reason, amount, currency, evidence_due_by, opened_at, observed_at,
                         last_event_id, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)
                     ON CONFLICT (tenant_id, dispute_id, payment_id) DO UPDATE SET
                         charge_id = excluded.charge_id,
                         intent_id = COALESCE(excluded.intent_id, payment_disputes.intent_id),
                         status = excluded.status, reason = excluded.reason, amount = excluded.amount,
                         evidence_due_by = excluded.evidence_due_by, opened_at = excluded.opened_at,
                         observed_at = excluded.observed_at,
                         last_event_id = COALESCE(excluded.last_event_id, payment_disputes.last_event_id),
                         updated_at = excluded.updated_at",
                    &[
                        &t,
                        &o.id,
                        &o.payment_id,
                        &payment.invoice_id,
                        &o.charge_id,
                        &o.intent_id,
                        &status,
                        &o.reason,
                        &o.amount.amount,
                        &currency,
                        &o.evidence_due_by,
                        &o.opened_at,
                        &o.observed_at,
                        &o.event_id,
                        &at,
                    ],
                )?;
                if owes_again(held.as_ref(), o) {
                    let invoice = load_invoice(tx, t, payment.invoice_id)?;
                    if invoice.status == InvoiceStatus::Paid && invoice.amount_due > 0 {
                        tx.execute(
                            "UPDATE invoices SET status = 'awaiting_payment' WHERE tenant_id = $1 AND id = $2",
                            &[&t, &payment.invoice_id],
                        )?;
                    }
                }
            }
            let dispute = load(tx, t, &o.id, o.payment_id)?
                .ok_or_else(|| DbError::NotFound(format!("dispute {}", o.id)))?;
            Ok((applied, dispute))
        })
    }

    fn disputes(&self, tenant: &TenantId, invoice_id: i64) -> DbResult<Vec<Dispute>> {
        let mut conn = self.conn()?;
        conn.query(
            &format!(
                "SELECT {DISPUTE_COLUMNS} FROM payment_disputes
                 WHERE tenant_id = $1 AND invoice_id = $2 ORDER BY opened_at, id LIMIT 1000"
            ),
            &[&tenant.as_str(), &invoice_id],
        )?
        .iter()
        .map(row)
        .collect()
    }
}
