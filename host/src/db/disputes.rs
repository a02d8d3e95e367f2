//! Disputes of payment records in SQLite (the contract's `helpdesk.record-dispute` and
//! `list-disputes`): one row per dispute and payment record, written under the state machine's rule
//! (`payment_state::dispute_should_apply`) inside one immediate transaction, which also puts a paid
//! invoice back to awaiting payment when the dispute is lost (its amount due adds lost disputes,
//! `invoices::load_invoice`). Every statement filters on the tenant id. The checks both engines
//! share are here too.

use rusqlite::params;

use super::invoices::load_invoice;
use super::names::{dispute_status, dispute_status_name, dispute_vocab};
use super::payments::load_payment;
use super::sqlite::SqliteDb;
use super::{DbError, DbResult, now};
use crate::contract::{
    Dispute, DisputeObservation, DisputeStatus, InvoicePayment, InvoiceStatus, Money,
};
use crate::tenant::TenantId;
use paydesk_plugin::domain::money::MinorUnits;
use paydesk_plugin::domain::payment_state::{dispute_owes_again, dispute_should_apply};

pub(super) const DISPUTE_COLUMNS: &str = "dispute_id, payment_id, invoice_id, charge_id, intent_id, \
     status, reason, amount, currency, evidence_due_by, opened_at, observed_at, last_event_id, updated_at";

/// Longest id, reason or charge id kept (Stripe's are far shorter).
const MAX_TEXT: usize = 255;

/// May `o` be recorded against `payment`? Its amount in the payment's currency and at most what
/// the payment paid (amount plus fee, checked), and its texts bounded.
pub(super) fn check_observation(payment: &InvoicePayment, o: &DisputeObservation) -> DbResult<()> {
    for (what, text) in [
        ("dispute id", o.id.as_str()),
        ("charge id", o.charge_id.as_str()),
        ("reason", o.reason.as_str()),
    ] {
        if text.is_empty() || text.len() > MAX_TEXT {
            return Err(DbError::Invalid(format!(
                "a dispute's {what} must be 1 to {MAX_TEXT} characters"
            )));
        }
    }
    if let DisputeStatus::Other(name) = &o.status
        && (name.is_empty() || name.len() > MAX_TEXT)
    {
        return Err(DbError::Invalid(
            "a dispute's status name is malformed".into(),
        ));
    }
    if !o
        .amount
        .currency
        .eq_ignore_ascii_case(&payment.amount.currency)
    {
        return Err(DbError::Invalid(format!(
            "dispute {} is in {}, payment {} in {}",
            o.id, o.amount.currency, payment.id, payment.amount.currency
        )));
    }
    let paid = MinorUnits(payment.amount.amount)
        .checked_add(MinorUnits(payment.fee.amount))
        .map_err(|_| {
            DbError::Invalid(format!(
                "payment {}: its amount and fee overflow",
                payment.id
            ))
        })?;
    if o.amount.amount < 0 || o.amount.amount > paid.0 {
        return Err(DbError::Invalid(format!(
            "dispute {} of {} is not within the {} payment {} paid",
            o.id, o.amount.amount, paid.0, payment.id
        )));
    }
    Ok(())
}

/// Whether `o` replaces `held` (none: nothing held yet).
pub(super) fn applies(held: Option<&Dispute>, o: &DisputeObservation) -> bool {
    dispute_should_apply(
        held.map(|d| (dispute_vocab(&d.status), d.observed_at)),
        dispute_vocab(&o.status),
        o.observed_at,
    )
}

/// Whether applying `o` over `held` makes the disputed amount owed again (lost, and not before).
pub(super) fn owes_again(held: Option<&Dispute>, o: &DisputeObservation) -> bool {
    dispute_owes_again(dispute_vocab(&o.status))
        && !held.is_some_and(|d| dispute_owes_again(dispute_vocab(&d.status)))
}

/// A dispute row as the contract's record; `get(i)` reads column `i` of [`DISPUTE_COLUMNS`].
pub(super) fn dispute_of(
    text: impl Fn(usize) -> DbResult<String>,
    opt_text: impl Fn(usize) -> DbResult<Option<String>>,
    int: impl Fn(usize) -> DbResult<i64>,
    opt_int: impl Fn(usize) -> DbResult<Option<i64>>,
) -> DbResult<Dispute> {
    Ok(Dispute {
        id: text(0)?,
        payment_id: int(1)?,
        invoice_id: int(2)?,
        charge_id: text(3)?,
        intent_id: opt_text(4)?,
        status: dispute_status(&text(5)?),
        reason: text(6)?,
        amount: Money {
            amount: int(7)?,
            currency: text(8)?,
        },
        evidence_due_by: opt_int(9)?,
        opened_at: int(10)?,
        observed_at: int(11)?,
        last_event_id: opt_text(12)?,
        updated_at: int(13)?,
    })
}

fn row(r: &rusqlite::Row<'_>) -> DbResult<Dispute> {
    dispute_of(
        |i| Ok(r.get(i)?),
        |i| Ok(r.get(i)?),
        |i| Ok(r.get(i)?),
        |i| Ok(r.get(i)?),
    )
}

fn load(
    conn: &rusqlite::Connection,
    tenant: &str,
    dispute_id: &str,
    payment_id: i64,
) -> DbResult<Option<Dispute>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {DISPUTE_COLUMNS} FROM payment_disputes
         WHERE tenant_id = ?1 AND dispute_id = ?2 AND payment_id = ?3"
    ))?;
    let mut rows = stmt.query(params![tenant, dispute_id, payment_id])?;
    rows.next()?.map(row).transpose()
}

impl super::DisputeStore for SqliteDb {
    fn record_dispute(
        &self,
        tenant: &TenantId,
        o: &DisputeObservation,
    ) -> DbResult<(bool, Dispute)> {
        let mut conn = self.conn()?;
        // Immediate: the write lock first, so the held dispute read, the rule and the write (and
        // the invoice it reopens) are one decision whatever else runs.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let t = tenant.as_str();
        let payment = load_payment(&tx, t, o.payment_id)?;
        check_observation(&payment, o)?;
        let held = load(&tx, t, &o.id, o.payment_id)?;
        let applied = applies(held.as_ref(), o);
        if applied {
            let at = now();
            let status = dispute_status_name(&o.status);
            let currency = payment.amount.currency.to_ascii_lowercase();
            tx.prepare_cached(
                "INSERT INTO payment_disputes (tenant_id, dispute_id, payment_id, invoice_id, charge_id,
                     intent_id, status, reason, amount, currency, evidence_due_by, opened_at, observed_at,
                     last_event_id, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15)
                 ON CONFLICT (tenant_id, dispute_id, payment_id) DO UPDATE SET
                     charge_id = excluded.charge_id, intent_id = COALESCE(excluded.intent_id, intent_id),
                     status = excluded.status, reason = excluded.reason, amount = excluded.amount,
                     evidence_due_by = excluded.evidence_due_by, opened_at = excluded.opened_at,
                     observed_at = excluded.observed_at,
                     last_event_id = COALESCE(excluded.last_event_id, last_event_id),
                     updated_at = excluded.updated_at",
            )?
            .execute(params![
                t,
                o.id,
                o.payment_id,
                payment.invoice_id,
                o.charge_id,
                o.intent_id,
                status,
                o.reason,
                o.amount.amount,
                currency,
                o.evidence_due_by,
                o.opened_at,
                o.observed_at,
                o.event_id,
                at
            ])?;
            if owes_again(held.as_ref(), o) {
                let invoice = load_invoice(&tx, t, payment.invoice_id)?;
                if invoice.status == InvoiceStatus::Paid && invoice.amount_due > 0 {
                    tx.prepare_cached(
                        "UPDATE invoices SET status = 'awaiting_payment' WHERE tenant_id = ?1 AND id = ?2",
                    )?
                    .execute(params![t, payment.invoice_id])?;
                }
            }
        }
        let dispute = load(&tx, t, &o.id, o.payment_id)?
            .ok_or_else(|| DbError::NotFound(format!("dispute {}", o.id)))?;
        tx.commit()?;
        Ok((applied, dispute))
    }

    fn disputes(&self, tenant: &TenantId, invoice_id: i64) -> DbResult<Vec<Dispute>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {DISPUTE_COLUMNS} FROM payment_disputes
             WHERE tenant_id = ?1 AND invoice_id = ?2 ORDER BY opened_at, id LIMIT 1000"
        ))?;
        let mut rows = stmt.query(params![tenant.as_str(), invoice_id])?;
        let mut all = Vec::new();
        while let Some(r) = rows.next()? {
            all.push(row(r)?);
        }
        Ok(all)
    }
}

/// The amounts of an invoice's lost disputes, for its amount due.
pub(super) fn lost_amounts(
    conn: &rusqlite::Connection,
    tenant: &str,
    invoice_id: i64,
) -> DbResult<Vec<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT amount FROM payment_disputes
             WHERE tenant_id = ?1 AND invoice_id = ?2 AND status = 'lost' ORDER BY id",
        )?
        .query_map(params![tenant, invoice_id], |r| r.get(0))?
        .collect::<Result<Vec<i64>, _>>()?)
}
