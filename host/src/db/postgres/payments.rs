//! Payment records in PostgreSQL. Writing an attempt and settling one both lock the invoice row
//! first (`FOR UPDATE`, in id order for a pay-all), so the check that an invoice is payable and the
//! claim, or a settlement and the invoice's paid status, never interleave with another host's; the
//! unique index on open records refuses a second open attempt whatever the caller checked.

use postgres::Row;

use super::invoices::*;
use super::{Begin, PgConn, PgDb, conflict_on_unique, to_u32};
use crate::contract::{
    Initiator, InvoicePayment, Money, NewPayment, PaymentFilter, PaymentStatus, PaymentUpdate,
};
use crate::db::names::{method_type_name, payment_status, payment_status_name};
use crate::db::payments::{check_payable, initiator_columns};
use crate::db::{Claim, DbError, DbResult, PaymentStore, now};
use crate::settings::method_type;
use crate::tenant::TenantId;

pub(super) const PAYMENT_COLUMNS: &str = "id, invoice_id, group_id, intent_id, status, method, method_type, \
     amount, fee, currency, initiator_kind, initiator_id, attempt, failure_reason, failure_code, \
     last_event_id, webhook_received_at, created_at, updated_at, version, observed_at";

pub(super) fn payment_row(r: &Row) -> DbResult<InvoicePayment> {
    let currency: String = r.try_get(9)?;
    let kind: String = r.try_get(10)?;
    let initiator_id: Option<i64> = r.try_get(11)?;
    Ok(InvoicePayment {
        id: r.try_get(0)?,
        invoice_id: r.try_get(1)?,
        group_id: r.try_get(2)?,
        intent_id: r.try_get(3)?,
        status: payment_status(&r.try_get::<_, String>(4)?),
        method: r.try_get(5)?,
        method_type: r.try_get::<_, Option<String>>(6)?.map(|t| method_type(&t)),
        amount: Money {
            amount: r.try_get(7)?,
            currency: currency.clone(),
        },
        fee: Money {
            amount: r.try_get(8)?,
            currency,
        },
        initiator: match (kind.as_str(), initiator_id) {
            ("agent", Some(id)) => Initiator::Agent(id),
            ("portal_user", Some(id)) => Initiator::PortalUser(id),
            _ => Initiator::Autopay,
        },
        attempt: to_u32(r.try_get(12)?),
        failure_reason: r.try_get(13)?,
        failure_code: r.try_get(14)?,
        last_event_id: r.try_get(15)?,
        webhook_received_at: r.try_get(16)?,
        created_at: r.try_get(17)?,
        updated_at: r.try_get(18)?,
        version: r.try_get::<_, i64>(19)? as u64,
        observed_at: r.try_get(20)?,
    })
}

pub(super) fn load_payment(conn: &mut PgConn, tenant: &str, id: i64) -> DbResult<InvoicePayment> {
    let row = conn
        .query_opt(
            &format!(
                "SELECT {PAYMENT_COLUMNS} FROM invoice_payments WHERE tenant_id = $1 AND id = $2"
            ),
            &[&tenant, &id],
        )?
        .ok_or_else(|| DbError::NotFound(format!("payment {id}")))?;
    payment_row(&row)
}

/// Apply a succeeded payment to its invoice (locked by the caller): fee line, then paid when
/// nothing is due.
pub(super) fn settle(
    conn: &mut PgConn,
    tenant: &str,
    payment: &InvoicePayment,
    fee_line: &str,
) -> DbResult<()> {
    if payment.fee.amount != 0 {
        conn.execute(
            "INSERT INTO invoice_lines (tenant_id, invoice_id, description, amount, is_processing_fee, payment_id)
             VALUES ($1, $2, $3, $4, TRUE, $5)",
            &[&tenant, &payment.invoice_id, &fee_line, &payment.fee.amount, &payment.id],
        )?;
    }
    let invoice = load_invoice(conn, tenant, payment.invoice_id)?;
    if invoice.amount_due <= 0 {
        conn.execute(
            "UPDATE invoices SET status = 'paid' WHERE tenant_id = $1 AND id = $2",
            &[&tenant, &payment.invoice_id],
        )?;
    }
    Ok(())
}

impl PaymentStore for PgDb {
    fn claim_payments(
        &self,
        tenant: &TenantId,
        new: &[NewPayment],
        claim: Claim,
    ) -> DbResult<Vec<InvoicePayment>> {
        self.tx(Begin::Write, |tx| {
            // The invoices are locked first, in id order (two pay-alls never wait on each other
            // in a cycle); every read after the locks sees what committed before them, so the
            // check that an invoice is payable and the claim are one decision. The unique index
            // on open records refuses a second open attempt whatever was checked.
            let mut ids: Vec<i64> = new.iter().map(|p| p.invoice_id).collect();
            ids.sort_unstable();
            ids.dedup();
            for id in ids {
                lock_invoice(tx, tenant.as_str(), id)?;
            }
            let mut created = Vec::with_capacity(new.len());
            for p in new {
                let invoice = load_invoice(tx, tenant.as_str(), p.invoice_id)?;
                check_payable(&invoice, p, claim)?;
                let (kind, initiator_id) = initiator_columns(&p.initiator);
                let at = now();
                let row = tx
                    .query_opt(
                        "INSERT INTO invoice_payments (tenant_id, invoice_id, group_id, intent_id, status, method, method_type,
                             amount, fee, currency, initiator_kind, initiator_id, attempt, created_at, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) RETURNING id",
                        &[
                            &tenant.as_str(),
                            &p.invoice_id,
                            &p.group_id,
                            &p.intent_id,
                            &payment_status_name(p.status),
                            &p.method,
                            &p.method_type.as_ref().map(method_type_name),
                            &p.amount.amount,
                            &p.fee.amount,
                            &p.amount.currency,
                            &kind,
                            &initiator_id,
                            &i64::from(p.attempt),
                            &at,
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
                    })?
                    .ok_or_else(|| DbError::NotFound("payment".into()))?;
                let id: i64 = row.try_get(0)?;
                created.push(load_payment(tx, tenant.as_str(), id)?);
            }
            Ok(created)
        })
    }

    fn update_payment(
        &self,
        tenant: &TenantId,
        id: i64,
        expected_version: u64,
        update: &PaymentUpdate,
    ) -> DbResult<InvoicePayment> {
        self.tx(Begin::Write, |tx| {
            // The invoice first, then the record: the order `create_payments` locks in.
            let invoice_id: i64 = tx
                .query_opt(
                    "SELECT invoice_id FROM invoice_payments WHERE tenant_id = $1 AND id = $2",
                    &[&tenant.as_str(), &id],
                )?
                .ok_or_else(|| DbError::NotFound(format!("payment {id}")))?
                .try_get(0)?;
            lock_invoice(tx, tenant.as_str(), invoice_id)?;
            tx.execute(
                "SELECT id FROM invoice_payments WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
                &[&tenant.as_str(), &id],
            )?;
            let current = load_payment(tx, tenant.as_str(), id)?;
            if current.version != expected_version {
                return Err(DbError::Conflict(format!(
                    "payment {id} is at version {}, not {expected_version}",
                    current.version
                )));
            }
            tx.execute(
                "UPDATE invoice_payments SET status = $3,
                     intent_id = COALESCE($4::text, intent_id), method = COALESCE($5::text, method),
                     method_type = COALESCE($6::text, method_type), failure_reason = $7, failure_code = $8,
                     last_event_id = COALESCE($9::text, last_event_id),
                     webhook_payload = COALESCE($10::text, webhook_payload),
                     webhook_received_at = CASE WHEN $10::text IS NULL THEN webhook_received_at ELSE $11::bigint END,
                     observed_at = $12, updated_at = $11::bigint, version = version + 1
                 WHERE tenant_id = $1 AND id = $2",
                &[
                    &tenant.as_str(),
                    &id,
                    &payment_status_name(update.status),
                    &update.intent_id,
                    &update.method,
                    &update.method_type.as_ref().map(method_type_name),
                    &update.failure_reason,
                    &update.failure_code,
                    &update.event_id,
                    &update.webhook_payload,
                    &now(),
                    &update.observed_at,
                ],
            )?;
            let updated = load_payment(tx, tenant.as_str(), id)?;
            if let (PaymentStatus::Succeeded, Some(fee_line)) =
                (update.status, &update.settle_with_fee_line)
                && current.status != PaymentStatus::Succeeded
            {
                settle(tx, tenant.as_str(), &updated, fee_line)?;
            }
            Ok(updated)
        })
    }

    fn payments(&self, tenant: &TenantId, filter: &PaymentFilter) -> DbResult<Vec<InvoicePayment>> {
        let mut conn = self.conn()?;
        let base = format!("SELECT {PAYMENT_COLUMNS} FROM invoice_payments WHERE tenant_id = $1");
        let rows = match filter {
            PaymentFilter::Invoice(id) => conn.query(
                &format!("{base} AND invoice_id = $2 ORDER BY id"),
                &[&tenant.as_str(), id],
            )?,
            PaymentFilter::Group(g) => conn.query(
                &format!("{base} AND group_id = $2 ORDER BY id"),
                &[&tenant.as_str(), g],
            )?,
            PaymentFilter::Intent(i) => conn.query(
                &format!("{base} AND intent_id = $2 ORDER BY id"),
                &[&tenant.as_str(), i],
            )?,
            PaymentFilter::Stale((statuses, before)) => {
                let mut all = Vec::new();
                for s in statuses {
                    all.extend(conn.query(
                        &format!(
                            "{base} AND status = $2 AND updated_at < $3 ORDER BY id LIMIT 1000"
                        ),
                        &[&tenant.as_str(), &payment_status_name(*s), before],
                    )?);
                }
                all
            }
        };
        rows.iter().map(payment_row).collect()
    }
}
