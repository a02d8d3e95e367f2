//! Payment records in SQLite: new attempts (checked payable inside the transaction that writes
//! them), versioned updates and their effect on the invoice (fee line, paid) in one transaction,
//! and listing. Every statement filters on the tenant id.

use rusqlite::{OptionalExtension, Transaction, params};

use super::invoices::*;
use super::names::*;
use super::sqlite::{SqliteDb, conflict_on_unique};
use super::{Claim, DbError, DbResult, now};
use crate::contract::{
    Initiator, Invoice, InvoicePayment, InvoiceStatus, Money, NewPayment, PaymentFilter,
    PaymentStatus, PaymentUpdate,
};
use crate::settings::method_type;
use crate::tenant::TenantId;

pub(super) fn initiator_columns(i: &Initiator) -> (&'static str, Option<i64>) {
    match i {
        Initiator::Agent(id) => ("agent", Some(*id)),
        Initiator::PortalUser(id) => ("portal_user", Some(*id)),
        Initiator::Autopay => ("autopay", None),
    }
}

pub(super) const PAYMENT_COLUMNS: &str = "id, invoice_id, group_id, intent_id, status, method, method_type, \
     amount, fee, currency, initiator_kind, initiator_id, attempt, failure_reason, failure_code, \
     last_event_id, webhook_received_at, created_at, updated_at, version, observed_at";

pub(super) fn payment_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<InvoicePayment> {
    let currency: String = r.get(9)?;
    let kind: String = r.get(10)?;
    let initiator_id: Option<i64> = r.get(11)?;
    Ok(InvoicePayment {
        id: r.get(0)?,
        invoice_id: r.get(1)?,
        group_id: r.get(2)?,
        intent_id: r.get(3)?,
        status: payment_status(&r.get::<_, String>(4)?),
        method: r.get(5)?,
        method_type: r.get::<_, Option<String>>(6)?.map(|t| method_type(&t)),
        amount: Money {
            amount: r.get(7)?,
            currency: currency.clone(),
        },
        fee: Money {
            amount: r.get(8)?,
            currency,
        },
        initiator: match (kind.as_str(), initiator_id) {
            ("agent", Some(id)) => Initiator::Agent(id),
            ("portal_user", Some(id)) => Initiator::PortalUser(id),
            _ => Initiator::Autopay,
        },
        attempt: r.get(12)?,
        failure_reason: r.get(13)?,
        failure_code: r.get(14)?,
        last_event_id: r.get(15)?,
        webhook_received_at: r.get(16)?,
        created_at: r.get(17)?,
        updated_at: r.get(18)?,
        version: r.get::<_, i64>(19)? as u64,
        observed_at: r.get(20)?,
    })
}

/// May a new attempt pay `invoice` for `payment`'s amount? Checked inside the transaction that
/// writes the attempt's record: awaiting payment, something due, in the invoice's currency, and
/// the amount `claim` allows — exactly the amount due (`Whole`), or more than zero and at most an
/// amount due that is still what was priced (`Part`).
pub(super) fn check_payable(invoice: &Invoice, payment: &NewPayment, claim: Claim) -> DbResult<()> {
    match invoice.status {
        InvoiceStatus::Paid => {
            return Err(DbError::Conflict(format!(
                "invoice {} is already paid",
                invoice.number
            )));
        }
        InvoiceStatus::Void => {
            return Err(DbError::Conflict(format!(
                "invoice {} is void",
                invoice.number
            )));
        }
        InvoiceStatus::AwaitingPayment => {}
    }
    if invoice.amount_due <= 0 {
        return Err(DbError::Conflict(format!(
            "invoice {} has nothing left to pay",
            invoice.number
        )));
    }
    let expected_due = match claim {
        Claim::Whole => payment.amount.amount,
        Claim::Part { amount_due } => amount_due,
    };
    let amount_allowed = match claim {
        Claim::Whole => true,
        Claim::Part { amount_due } => {
            payment.amount.amount > 0 && payment.amount.amount <= amount_due
        }
    };
    if !amount_allowed {
        return Err(DbError::Invalid(format!(
            "a payment of invoice {} takes more than zero and at most the {} {} due, not {} {}",
            invoice.number,
            invoice.amount_due,
            invoice.currency,
            payment.amount.amount,
            payment.amount.currency
        )));
    }
    if expected_due != invoice.amount_due
        || !payment
            .amount
            .currency
            .eq_ignore_ascii_case(&invoice.currency)
    {
        return Err(DbError::Conflict(format!(
            "invoice {} now has {} {} due, not the {} {} this payment was priced for; price it again",
            invoice.number,
            invoice.amount_due,
            invoice.currency,
            expected_due,
            payment.amount.currency
        )));
    }
    Ok(())
}

pub(super) fn load_payment(
    conn: &rusqlite::Connection,
    tenant: &str,
    id: i64,
) -> DbResult<InvoicePayment> {
    conn.prepare_cached(&format!(
        "SELECT {PAYMENT_COLUMNS} FROM invoice_payments WHERE tenant_id = ?1 AND id = ?2"
    ))?
    .query_row(params![tenant, id], payment_row)
    .optional()?
    .ok_or_else(|| DbError::NotFound(format!("payment {id}")))
}

/// Apply a succeeded payment to its invoice: fee line, then paid when nothing is due.
pub(super) fn settle(
    tx: &Transaction<'_>,
    tenant: &str,
    payment: &InvoicePayment,
    fee_line: &str,
) -> DbResult<()> {
    if payment.fee.amount != 0 {
        tx.prepare_cached("INSERT INTO invoice_lines (tenant_id, invoice_id, description, amount, is_processing_fee, payment_id)
             VALUES (?1, ?2, ?3, ?4, 1, ?5)")?.execute(
            params![tenant, payment.invoice_id, fee_line, payment.fee.amount, payment.id],
        )?;
    }
    let invoice = load_invoice(tx, tenant, payment.invoice_id)?;
    if invoice.amount_due <= 0 {
        tx.prepare_cached("UPDATE invoices SET status = 'paid' WHERE tenant_id = ?1 AND id = ?2")?
            .execute(params![tenant, payment.invoice_id])?;
    }
    Ok(())
}

impl super::PaymentStore for SqliteDb {
    fn claim_payments(
        &self,
        tenant: &TenantId,
        new: &[NewPayment],
        claim: Claim,
    ) -> DbResult<Vec<InvoicePayment>> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut created = Vec::with_capacity(new.len());
        for p in new {
            // The check that the invoice is payable and the claim are one transaction: the
            // write lock is taken first (IMMEDIATE), and the unique index on open records
            // (schema_7) refuses a second open attempt whatever the caller checked before.
            let invoice = load_invoice(&tx, tenant.as_str(), p.invoice_id)?;
            check_payable(&invoice, p, claim)?;
            let (kind, initiator_id) = initiator_columns(&p.initiator);
            let at = now();
            tx.prepare_cached("INSERT INTO invoice_payments (tenant_id, invoice_id, group_id, intent_id, status, method, method_type,
                     amount, fee, currency, initiator_kind, initiator_id, attempt, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)")?.execute(
                params![
                    tenant.as_str(),
                    p.invoice_id,
                    p.group_id,
                    p.intent_id,
                    payment_status_name(p.status),
                    p.method,
                    p.method_type.as_ref().map(method_type_name),
                    p.amount.amount,
                    p.fee.amount,
                    p.amount.currency,
                    kind,
                    initiator_id,
                    p.attempt,
                    at
                ],
            )
            .map_err(|e| {
                conflict_on_unique(
                    e,
                    &format!(
                        "invoice {} has a payment in progress; wait for it to finish before paying again",
                        invoice.number
                    ),
                )
            })?;
            created.push(load_payment(&tx, tenant.as_str(), tx.last_insert_rowid())?);
        }
        tx.commit()?;
        Ok(created)
    }

    fn update_payment(
        &self,
        tenant: &TenantId,
        id: i64,
        expected_version: u64,
        update: &PaymentUpdate,
    ) -> DbResult<InvoicePayment> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let current = load_payment(&tx, tenant.as_str(), id)?;
        if current.version != expected_version {
            return Err(DbError::Conflict(format!(
                "payment {id} is at version {}, not {expected_version}",
                current.version
            )));
        }
        tx.prepare_cached(
            "UPDATE invoice_payments SET status = ?3,
                 intent_id = COALESCE(?4, intent_id), method = COALESCE(?5, method),
                 method_type = COALESCE(?6, method_type), failure_reason = ?7, failure_code = ?8,
                 last_event_id = COALESCE(?9, last_event_id),
                 webhook_payload = COALESCE(?10, webhook_payload),
                 webhook_received_at = CASE WHEN ?10 IS NULL THEN webhook_received_at ELSE ?11 END,
                 observed_at = ?12, updated_at = ?11, version = version + 1
             WHERE tenant_id = ?1 AND id = ?2",
        )?
        .execute(params![
            tenant.as_str(),
            id,
            payment_status_name(update.status),
            update.intent_id,
            update.method,
            update.method_type.as_ref().map(method_type_name),
            update.failure_reason,
            update.failure_code,
            update.event_id,
            update.webhook_payload,
            now(),
            update.observed_at
        ])?;
        let updated = load_payment(&tx, tenant.as_str(), id)?;
        if let (PaymentStatus::Succeeded, Some(fee_line)) =
            (update.status, &update.settle_with_fee_line)
            && current.status != PaymentStatus::Succeeded
        {
            settle(&tx, tenant.as_str(), &updated, fee_line)?;
        }
        tx.commit()?;
        Ok(updated)
    }

    fn payments(&self, tenant: &TenantId, filter: &PaymentFilter) -> DbResult<Vec<InvoicePayment>> {
        let conn = self.conn()?;
        let base = format!("SELECT {PAYMENT_COLUMNS} FROM invoice_payments WHERE tenant_id = ?1");
        let rows = match filter {
            PaymentFilter::Invoice(id) => conn
                .prepare_cached(&format!("{base} AND invoice_id = ?2 ORDER BY id"))?
                .query_map(params![tenant.as_str(), id], payment_row)?
                .collect::<Result<Vec<_>, _>>()?,
            PaymentFilter::Group(g) => conn
                .prepare_cached(&format!("{base} AND group_id = ?2 ORDER BY id"))?
                .query_map(params![tenant.as_str(), g], payment_row)?
                .collect::<Result<Vec<_>, _>>()?,
            PaymentFilter::Intent(i) => conn
                .prepare_cached(&format!("{base} AND intent_id = ?2 ORDER BY id"))?
                .query_map(params![tenant.as_str(), i], payment_row)?
                .collect::<Result<Vec<_>, _>>()?,
            PaymentFilter::Stale((statuses, before)) => {
                let mut all = Vec::new();
                for s in statuses {
                    let mut part = conn
                        .prepare_cached(&format!(
                            "{base} AND status = ?2 AND updated_at < ?3 ORDER BY id LIMIT 1000"
                        ))?
                        .query_map(
                            params![tenant.as_str(), payment_status_name(*s), before],
                            payment_row,
                        )?
                        .collect::<Result<Vec<_>, _>>()?;
                    all.append(&mut part);
                }
                all
            }
        };
        Ok(rows)
    }
}
