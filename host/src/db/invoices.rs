//! Invoices in SQLite: created with their lines (bounded, summed with checked arithmetic so no
//! amount wraps), read with what is still due (lines, less succeeded payments, plus lost
//! disputes) in one transaction. Every statement filters on the
//! tenant id, so an id of another tenant is "not found".

use rusqlite::{OptionalExtension, params, params_from_iter, types::Value};

use super::CustomerStore as _;
use super::names::*;
use super::sqlite::{SqliteDb, conflict_on_unique};
use super::{DbError, DbResult, NewInvoice, now};
use crate::contract::{Invoice, InvoiceFilter, InvoiceLine};
use crate::tenant::TenantId;
use paydesk_plugin::domain::limits;
use paydesk_plugin::domain::money::MinorUnits;

pub(super) const INVOICE_COLUMNS: &str = "id, number, customer_id, user_id, currency, issue_date, due_date, \
     recurring_invoice_id, status";

/// Read one invoice with its lines and what is still due.
pub(super) fn load_invoice(
    conn: &rusqlite::Connection,
    tenant: &str,
    id: i64,
) -> DbResult<Invoice> {
    let mut invoice = conn
        .prepare_cached(&format!(
            "SELECT {INVOICE_COLUMNS} FROM invoices WHERE tenant_id = ?1 AND id = ?2"
        ))?
        .query_row(params![tenant, id], |r| {
            Ok(Invoice {
                id: r.get(0)?,
                number: r.get(1)?,
                customer_id: r.get(2)?,
                user_id: r.get(3)?,
                currency: r.get(4)?,
                issue_date: r.get(5)?,
                due_date: r.get(6)?,
                recurring_invoice_id: r.get(7)?,
                status: invoice_status(&r.get::<_, String>(8)?),
                lines: Vec::new(),
                amount_due: 0,
            })
        })
        .optional()?
        .ok_or_else(|| DbError::NotFound(format!("invoice {id}")))?;
    let mut stmt = conn.prepare_cached(
        "SELECT description, amount, is_processing_fee FROM invoice_lines
         WHERE tenant_id = ?1 AND invoice_id = ?2 ORDER BY id",
    )?;
    invoice.lines = stmt
        .query_map(params![tenant, id], |r| {
            Ok(InvoiceLine {
                description: r.get(0)?,
                amount: r.get(1)?,
                is_processing_fee: r.get(2)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    // Added up here with checked arithmetic, not by SQL: SQLite's `SUM` fails on an i64 overflow
    // and its `+` turns one into a float. New invoices are bounded when created (no sum of theirs
    // can overflow); a row that got past that is a clear error, never a wrapped amount due.
    let paid: Vec<(i64, i64)> = conn
        .prepare_cached(
            "SELECT amount, fee FROM invoice_payments
         WHERE tenant_id = ?1 AND invoice_id = ?2 AND status = 'succeeded' ORDER BY id",
        )?
        .query_map(params![tenant, id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    // A lost dispute's amount left again: owed again.
    let lost = super::disputes::lost_amounts(conn, tenant, id)?;
    // A succeeded refund gave money back: owed again, less the part that refunded the fee.
    let refunded =
        crate::db::refunds::owed_again(&super::refunds::succeeded_amounts(conn, tenant, id)?);
    let total = MinorUnits::checked_sum(invoice.lines.iter().map(|l| MinorUnits(l.amount)));
    let paid = MinorUnits::checked_sum(
        paid.into_iter()
            .flat_map(|(amount, fee)| [MinorUnits(amount), MinorUnits(fee)]),
    );
    let lost = MinorUnits::checked_sum(lost.into_iter().map(MinorUnits));
    invoice.amount_due = total
        .and_then(|total| paid.and_then(|paid| total.checked_sub(paid)))
        .and_then(|due| lost.and_then(|lost| due.checked_add(lost)))
        .map_err(|_| ())
        .and_then(|due| refunded.and_then(|refunded| due.checked_add(refunded).map_err(|_| ())))
        .map_err(|_| {
            DbError::Invalid(format!(
                "invoice {}: its lines and payments add up beyond what can be computed; it cannot be paid",
                invoice.number
            ))
        })?
        .0;
    Ok(invoice)
}

impl super::InvoiceStore for SqliteDb {
    fn create_invoice(&self, tenant: &TenantId, new: &NewInvoice) -> DbResult<Invoice> {
        let amounts: Vec<i64> = new.lines.iter().map(|(_, amount)| *amount).collect();
        if let Err(problems) = limits::invoice_total(&amounts) {
            let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Err(DbError::Invalid(format!(
                "invoice lines: {}",
                problems.join("; ")
            )));
        }
        self.customer(tenant, new.customer_id)?;
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.prepare_cached("INSERT INTO invoices (tenant_id, number, customer_id, user_id, currency, issue_date, due_date, recurring_invoice_id, status, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'awaiting_payment', ?9)")?.execute(
            params![
                tenant.as_str(),
                new.number,
                new.customer_id,
                new.user_id,
                new.currency.to_ascii_lowercase(),
                new.issue_date,
                new.due_date,
                new.recurring_invoice_id,
                now()
            ],
        )
        .map_err(|e| conflict_on_unique(e, &format!("invoice number {} exists", new.number)))?;
        let id = tx.last_insert_rowid();
        for (description, amount) in &new.lines {
            tx.prepare_cached("INSERT INTO invoice_lines (tenant_id, invoice_id, description, amount) VALUES (?1, ?2, ?3, ?4)")?.execute(
                params![tenant.as_str(), id, description, amount],
            )?;
        }
        let invoice = load_invoice(&tx, tenant.as_str(), id)?;
        tx.commit()?;
        Ok(invoice)
    }

    fn invoice(&self, tenant: &TenantId, id: i64) -> DbResult<Invoice> {
        // One snapshot: the invoice row, its lines and its payments are read in one transaction,
        // so a settlement committing meanwhile is seen whole or not at all (never "awaiting
        // payment" with nothing due).
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        load_invoice(&tx, tenant.as_str(), id)
    }

    fn invoices(&self, tenant: &TenantId, filter: &InvoiceFilter) -> DbResult<Vec<Invoice>> {
        let mut sql = String::from("SELECT id FROM invoices WHERE tenant_id = ?");
        let mut args: Vec<Value> = vec![Value::Text(tenant.to_string())];
        if let Some(c) = filter.customer_id {
            sql.push_str(" AND customer_id = ?");
            args.push(Value::Integer(c));
        }
        if let Some(s) = filter.status {
            sql.push_str(" AND status = ?");
            args.push(Value::Text(invoice_status_name(s).into()));
        }
        if let Some(d) = &filter.due_on_or_before {
            sql.push_str(" AND due_date <= ?");
            args.push(Value::Text(d.clone()));
        }
        if filter.recurring_only {
            sql.push_str(" AND recurring_invoice_id IS NOT NULL");
        }
        sql.push_str(" AND id > ? ORDER BY id LIMIT ?");
        args.push(Value::Integer(filter.after_id.unwrap_or(0)));
        args.push(Value::Integer(i64::from(filter.limit.min(1000))));
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let ids = tx
            .prepare_cached(&sql)?
            .query_map(params_from_iter(args), |r| r.get::<_, i64>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        ids.into_iter()
            .map(|id| load_invoice(&tx, tenant.as_str(), id))
            .collect()
    }
}
