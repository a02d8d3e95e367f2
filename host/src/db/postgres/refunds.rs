//! Refunds of payment records in PostgreSQL: the same rule and checks as SQLite's
//! (`db::refunds`), decided with the payment's invoice and then the payment row locked
//! (`FOR UPDATE`, the order every writer of payments locks in), so two hosts claiming refunds of
//! one payment, or recording what Stripe says of one refund, never interleave: what a transaction
//! reads after the locks is what committed before them. A refund Stripe's dashboard made is
//! inserted `ON CONFLICT DO NOTHING` on its Stripe id and, when another host inserted it first,
//! decided like any held refund. Every statement filters on the tenant id.

use postgres::Row;

use super::invoices::{load_invoice, lock_invoice};
use super::payments::load_payment;
use super::{Begin, PgConn, PgDb, conflict_on_unique};
use crate::contract::{NewRefund, Refund, RefundObservation, RefundStatus};
use crate::db::names::refund_status_name;
use crate::db::refunds::{
    LIVE, REFUND_COLUMNS, applies, check_claim, check_held, check_observation, invoice_move,
    may_move, observed_fee_part, reason, refund_of, stripe_id, taken,
};
use crate::db::{DbError, DbResult, RefundStore, now};
use crate::tenant::TenantId;

fn row(r: &Row) -> DbResult<Refund> {
    refund_of(
        |i| Ok(r.try_get(i)?),
        |i| Ok(r.try_get(i)?),
        |i| Ok(r.try_get(i)?),
        |i| Ok(r.try_get(i)?),
    )
}

fn load(conn: &mut PgConn, tenant: &str, id: i64) -> DbResult<Option<Refund>> {
    conn.query_opt(
        &format!("SELECT {REFUND_COLUMNS} FROM payment_refunds WHERE tenant_id = $1 AND id = $2"),
        &[&tenant, &id],
    )?
    .as_ref()
    .map(row)
    .transpose()
}

fn load_by_stripe_id(
    conn: &mut PgConn,
    tenant: &str,
    payment_id: i64,
    refund_id: &str,
) -> DbResult<Option<Refund>> {
    conn.query_opt(
        &format!(
            "SELECT {REFUND_COLUMNS} FROM payment_refunds
             WHERE tenant_id = $1 AND payment_id = $2 AND refund_id = $3"
        ),
        &[&tenant, &payment_id, &refund_id],
    )?
    .as_ref()
    .map(row)
    .transpose()
}

/// (amount, fee part) of a payment's refunds that did not fail or get canceled.
fn live_amounts(conn: &mut PgConn, tenant: &str, payment_id: i64) -> DbResult<Vec<(i64, i64)>> {
    conn.query(
        &format!(
            "SELECT amount, fee_part FROM payment_refunds
             WHERE tenant_id = $1 AND payment_id = $2 AND {LIVE} ORDER BY id"
        ),
        &[&tenant, &payment_id],
    )?
    .iter()
    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
    .collect()
}

/// (amount, fee part) of an invoice's succeeded refunds, for its amount due.
pub(super) fn succeeded_amounts(
    conn: &mut PgConn,
    tenant: &str,
    invoice_id: i64,
) -> DbResult<Vec<(i64, i64)>> {
    conn.query(
        "SELECT amount, fee_part FROM payment_refunds
         WHERE tenant_id = $1 AND invoice_id = $2 AND status = 'succeeded' ORDER BY id",
        &[&tenant, &invoice_id],
    )?
    .iter()
    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
    .collect()
}

/// Lock the invoice of payment `payment_id`, then the payment row: the order `update_payment`
/// locks in. `NotFound` when the payment is not the tenant's.
fn lock_payment(conn: &mut PgConn, tenant: &str, payment_id: i64) -> DbResult<()> {
    let invoice_id: i64 = conn
        .query_opt(
            "SELECT invoice_id FROM invoice_payments WHERE tenant_id = $1 AND id = $2",
            &[&tenant, &payment_id],
        )?
        .ok_or_else(|| DbError::NotFound(format!("payment {payment_id}")))?
        .try_get(0)?;
    lock_invoice(conn, tenant, invoice_id)?;
    conn.query_opt(
        "SELECT id FROM invoice_payments WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
        &[&tenant, &payment_id],
    )?
    .ok_or_else(|| DbError::NotFound(format!("payment {payment_id}")))?;
    Ok(())
}

/// Move the invoice as a refund going from `held` to `new` does.
fn move_invoice(
    conn: &mut PgConn,
    tenant: &str,
    invoice_id: i64,
    held: Option<RefundStatus>,
    new: RefundStatus,
) -> DbResult<()> {
    if !may_move(held, new) {
        return Ok(());
    }
    let invoice = load_invoice(conn, tenant, invoice_id)?;
    if let Some(status) = invoice_move(held, new, &invoice) {
        conn.execute(
            "UPDATE invoices SET status = $3 WHERE tenant_id = $1 AND id = $2",
            &[&tenant, &invoice_id, &status],
        )?;
    }
    Ok(())
}

impl RefundStore for PgDb {
    fn claim_refund(&self, tenant: &TenantId, new: &NewRefund) -> DbResult<Refund> {
        self.tx(Begin::Write, |tx| {
            let t = tenant.as_str();
            lock_payment(tx, t, new.payment_id)?;
            let payment = load_payment(tx, t, new.payment_id)?;
            tx.query_opt(
                "SELECT 1 FROM agents WHERE tenant_id = $1 AND id = $2",
                &[&t, &new.agent_id],
            )?
            .ok_or_else(|| DbError::NotFound(format!("agent {}", new.agent_id)))?;
            let live = live_amounts(tx, t, payment.id)?;
            check_claim(&payment, new, &live)?;
            let currency = payment.amount.currency.to_ascii_lowercase();
            let id: i64 = tx
                .query_opt(
                    "INSERT INTO payment_refunds (tenant_id, payment_id, invoice_id, refund_id, intent_id,
                         status, amount, fee_part, currency, failure_reason, agent_id, observed_at,
                         created_at, updated_at)
                     VALUES ($1, $2, $3, NULL, $4, 'pending', $5, $6, $7, NULL, $8, NULL, $9, $9)
                     RETURNING id",
                    &[
                        &t,
                        &payment.id,
                        &payment.invoice_id,
                        &payment.intent_id,
                        &new.amount.amount,
                        &new.fee_part.amount,
                        &currency,
                        &new.agent_id,
                        &now(),
                    ],
                )?
                .ok_or_else(|| DbError::NotFound("refund".into()))?
                .try_get(0)?;
            load(tx, t, id)?.ok_or_else(|| DbError::NotFound(format!("refund {id}")))
        })
    }

    fn record_refund(&self, tenant: &TenantId, o: &RefundObservation) -> DbResult<(bool, Refund)> {
        self.tx(Begin::Write, |tx| {
            let t = tenant.as_str();
            lock_payment(tx, t, o.payment_id)?;
            let payment = load_payment(tx, t, o.payment_id)?;
            check_observation(&payment, o)?;
            let status = refund_status_name(o.status);
            let at = now();
            let mut held = match o.record_id {
                Some(id) => {
                    Some(load(tx, t, id)?.ok_or_else(|| DbError::NotFound(format!("refund {id}")))?)
                }
                None => load_by_stripe_id(tx, t, o.payment_id, stripe_id(o))?,
            };
            if held.is_none() {
                // Made elsewhere (Stripe's dashboard): a new record, within what the payment paid.
                let live = live_amounts(tx, t, payment.id)?;
                let fee_part = observed_fee_part(&payment, o, &live)?;
                let currency = payment.amount.currency.to_ascii_lowercase();
                let failure = reason(o);
                let intent = o.intent_id.as_ref().or(payment.intent_id.as_ref());
                let made = tx.query_opt(
                    "INSERT INTO payment_refunds (tenant_id, payment_id, invoice_id, refund_id, intent_id,
                         status, amount, fee_part, currency, failure_reason, agent_id, observed_at,
                         created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, $11, $12, $12)
                     ON CONFLICT (tenant_id, payment_id, refund_id) DO NOTHING
                     RETURNING id",
                    &[
                        &t,
                        &payment.id,
                        &payment.invoice_id,
                        &o.refund_id,
                        &intent,
                        &status,
                        &o.amount.amount,
                        &fee_part,
                        &currency,
                        &failure,
                        &o.observed_at,
                        &at,
                    ],
                )?;
                if let Some(made) = made {
                    let id: i64 = made.try_get(0)?;
                    move_invoice(tx, t, payment.invoice_id, None, o.status)?;
                    let refund =
                        load(tx, t, id)?.ok_or_else(|| DbError::NotFound(format!("refund {id}")))?;
                    return Ok((true, refund));
                }
                // Another host inserted it first: decided below like any held refund.
                held = load_by_stripe_id(tx, t, o.payment_id, stripe_id(o))?;
            }
            let held = held.ok_or_else(|| DbError::NotFound(format!("refund {}", stripe_id(o))))?;
            check_held(&held, o)?;
            let applied = applies(Some(&held), o);
            if applied {
                tx.execute(
                    "UPDATE payment_refunds SET status = $3, observed_at = $4, failure_reason = $5,
                         refund_id = COALESCE(refund_id, $6), intent_id = COALESCE(intent_id, $7),
                         updated_at = $8
                     WHERE tenant_id = $1 AND id = $2",
                    &[
                        &t,
                        &held.id,
                        &status,
                        &o.observed_at,
                        &reason(o),
                        &o.refund_id,
                        &o.intent_id,
                        &at,
                    ],
                )
                .map_err(|e| conflict_on_unique(e, &taken(o)))?;
                move_invoice(tx, t, held.invoice_id, Some(held.status), o.status)?;
            } else if held.refund_id.is_none() {
                tx.execute(
                    "UPDATE payment_refunds SET refund_id = $3, updated_at = $4
                     WHERE tenant_id = $1 AND id = $2 AND refund_id IS NULL",
                    &[&t, &held.id, &o.refund_id, &at],
                )
                .map_err(|e| conflict_on_unique(e, &taken(o)))?;
            }
            let refund = load(tx, t, held.id)?
                .ok_or_else(|| DbError::NotFound(format!("refund {}", held.id)))?;
            Ok((applied, refund))
        })
    }

    fn refund(&self, tenant: &TenantId, id: i64) -> DbResult<Refund> {
        let mut conn = self.conn()?;
        load(&mut conn, tenant.as_str(), id)?
            .ok_or_else(|| DbError::NotFound(format!("refund {id}")))
    }

    fn refunds(&self, tenant: &TenantId, invoice_id: i64) -> DbResult<Vec<Refund>> {
        let mut conn = self.conn()?;
        conn.query(
            &format!(
                "SELECT {REFUND_COLUMNS} FROM payment_refunds
                 WHERE tenant_id = $1 AND invoice_id = $2 ORDER BY id LIMIT 1000"
            ),
            &[&tenant.as_str(), &invoice_id],
        )?
        .iter()
        .map(row)
        .collect()
    }

    fn can_refund(&self, tenant: &TenantId, agent_id: i64) -> DbResult<bool> {
        let mut conn = self.conn()?;
        Ok(conn
            .query_opt(
                "SELECT can_refund_stripe_payments FROM agents WHERE tenant_id = $1 AND id = $2",
                &[&tenant.as_str(), &agent_id],
            )?
            .ok_or_else(|| DbError::NotFound(format!("agent {agent_id}")))?
            .try_get(0)?)
    }

    fn set_can_refund(&self, tenant: &TenantId, agent_id: i64, can: bool) -> DbResult<()> {
        let mut conn = self.conn()?;
        let changed = conn.execute(
            "UPDATE agents SET can_refund_stripe_payments = $3 WHERE tenant_id = $1 AND id = $2",
            &[&tenant.as_str(), &agent_id, &can],
        )?;
        if changed == 0 {
            return Err(DbError::NotFound(format!("agent {agent_id}")));
        }
        Ok(())
    }
}
