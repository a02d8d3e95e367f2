//! Invoices in PostgreSQL: created with their lines, read with what is still due in one snapshot,
//! and locked (`FOR UPDATE`) by the writers that must not interleave with another host's. Every
//! statement filters on the tenant id.

use postgres::types::ToSql;

use super::{Begin, PgConn, PgDb, conflict_on_unique};
use crate::contract::{Invoice, InvoiceFilter, InvoiceLine};
use crate::db::names::{invoice_status, invoice_status_name};
use crate::db::{CustomerStore, DbError, DbResult, InvoiceStore, NewInvoice, now};
use crate::tenant::TenantId;
use paydesk_plugin::domain::limits;
use paydesk_plugin::domain::money::MinorUnits;

pub(super) const INVOICE_COLUMNS: &str = "id, number, customer_id, user_id, currency, issue_date, due_date, \
     recurring_invoice_id, status";

/// Read one invoice with its lines and what is still due.
pub(super) fn load_invoice(conn: &mut PgConn, tenant: &str, id: i64) -> DbResult<Invoice> {
    let row = conn
        .query_opt(
            &format!("SELECT {INVOICE_COLUMNS} FROM invoices WHERE tenant_id = $1 AND id = $2"),
            &[&tenant, &id],
        )?
        .ok_or_else(|| DbError::NotFound(format!("invoice {id}")))?;
    let mut invoice = Invoice {
        id: row.try_get(0)?,
        number: row.try_get(1)?,
        customer_id: row.try_get(2)?,
        user_id: row.try_get(3)?,
        currency: row.try_get(4)?,
        issue_date: row.try_get(5)?,
        due_date: row.try_get(6)?,
        recurring_invoice_id: row.try_get(7)?,
        status: invoice_status(&row.try_get::<_, String>(8)?),
        lines: Vec::new(),
        amount_due: 0,
    };
    invoice.lines = conn
        .query(
            "SELECT description, amount, is_processing_fee FROM invoice_lines
             WHERE tenant_id = $1 AND invoice_id = $2 ORDER BY id",
            &[&tenant, &id],
        )?
        .iter()
        .map(|r| {
            Ok(InvoiceLine {
                description: r.try_get(0)?,
                amount: r.try_get(1)?,
                is_processing_fee: r.try_get(2)?,
            })
        })
        .collect::<DbResult<Vec<_>>>()?;
    // Added up here with checked arithmetic, as in SQLite: a row that got past the bounds is a
    // clear error, never a wrapped amount due.
    let paid: Vec<(i64, i64)> = conn
        .query(
            "SELECT amount, fee FROM invoice_payments
             WHERE tenant_id = $1 AND invoice_id = $2 AND status = 'succeeded' ORDER BY id",
            &[&tenant, &id],
        )?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<DbResult<Vec<_>>>()?;
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

/// Lock an invoice row until the transaction ends; `false` when there is no such invoice.
pub(super) fn lock_invoice(conn: &mut PgConn, tenant: &str, id: i64) -> DbResult<bool> {
    Ok(conn
        .query_opt(
            "SELECT id FROM invoices WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
            &[&tenant, &id],
        )?
        .is_some())
}

impl InvoiceStore for PgDb {
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
        let currency = new.currency.to_ascii_lowercase();
        self.tx(Begin::Write, |tx| {
            let row = tx
                .query_opt(
                    "INSERT INTO invoices (tenant_id, number, customer_id, user_id, currency, issue_date, due_date, recurring_invoice_id, status, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'awaiting_payment', $9) RETURNING id",
                    &[
                        &tenant.as_str(),
                        &new.number,
                        &new.customer_id,
                        &new.user_id,
                        &currency,
                        &new.issue_date,
                        &new.due_date,
                        &new.recurring_invoice_id,
                        &now(),
                    ],
                )
                .map_err(|e| conflict_on_unique(e, &format!("invoice number {} exists", new.number)))?
                .ok_or_else(|| DbError::NotFound("invoice".into()))?;
            let id: i64 = row.try_get(0)?;
            for (description, amount) in &new.lines {
                tx.execute(
                    "INSERT INTO invoice_lines (tenant_id, invoice_id, description, amount) VALUES ($1, $2, $3, $4)",
                    &[&tenant.as_str(), &id, description, amount],
                )?;
            }
            load_invoice(tx, tenant.as_str(), id)
        })
    }

    fn invoice(&self, tenant: &TenantId, id: i64) -> DbResult<Invoice> {
        // One snapshot: the invoice row, its lines and its payments are read in one repeatable
        // read transaction, so a settlement committing meanwhile is seen whole or not at all.
        self.tx(Begin::Snapshot, |tx| load_invoice(tx, tenant.as_str(), id))
    }

    fn invoices(&self, tenant: &TenantId, filter: &InvoiceFilter) -> DbResult<Vec<Invoice>> {
        let mut sql = String::from("SELECT id FROM invoices WHERE tenant_id = $1");
        let mut args: Vec<Box<dyn ToSql + Sync>> = vec![Box::new(tenant.to_string())];
        let mut arg = |sql: &mut String, clause: &str, value: Box<dyn ToSql + Sync>| {
            args.push(value);
            sql.push_str(&clause.replace('?', &format!("${}", args.len())));
        };
        if let Some(c) = filter.customer_id {
            arg(&mut sql, " AND customer_id = ?", Box::new(c));
        }
        if let Some(s) = filter.status {
            arg(
                &mut sql,
                " AND status = ?",
                Box::new(invoice_status_name(s).to_string()),
            );
        }
        if let Some(d) = &filter.due_on_or_before {
            arg(&mut sql, " AND due_date <= ?", Box::new(d.clone()));
        }
        if filter.recurring_only {
            sql.push_str(" AND recurring_invoice_id IS NOT NULL");
        }
        arg(
            &mut sql,
            " AND id > ?",
            Box::new(filter.after_id.unwrap_or(0)),
        );
        arg(
            &mut sql,
            " ORDER BY id LIMIT ?",
            Box::new(i64::from(filter.limit.min(1000))),
        );
        let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref()).collect();
        self.tx(Begin::Snapshot, |tx| {
            let ids = tx
                .query(&sql, &params)?
                .iter()
                .map(|r| r.try_get::<_, i64>(0))
                .collect::<Result<Vec<_>, _>>()?;
            ids.into_iter()
                .map(|id| load_invoice(tx, tenant.as_str(), id))
                .collect()
        })
    }
}
