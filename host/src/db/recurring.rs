//! Recurring invoices and the audit trail in SQLite. Generating the invoices that are due happens
//! in one write transaction per recurring invoice, so two runs at once generate each invoice once.

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::sqlite::{SqliteDb, conflict_on_unique};
use super::{AuditRecord, DbError, DbResult, NewRecurring, Recurring, RecurringStore, now};
use crate::contract::AuditEntry;
use crate::tenant::TenantId;

const RECURRING_COLUMNS: &str = "id, customer_id, user_id, currency, description, amount, interval_months, next_date, due_days, active";

fn recurring_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Recurring> {
    Ok(Recurring {
        id: r.get(0)?,
        customer_id: r.get(1)?,
        user_id: r.get(2)?,
        currency: r.get(3)?,
        description: r.get(4)?,
        amount: r.get(5)?,
        interval_months: r.get(6)?,
        next_date: r.get(7)?,
        due_days: r.get(8)?,
        active: r.get(9)?,
    })
}

/// `date` plus `months` (clamped to the month's last day), `YYYY-MM-DD`.
pub(super) fn add_months(date: &str, months: u32) -> DbResult<String> {
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map_err(|_| DbError::Invalid(format!("`{date}` is not a date")))?;
    d.checked_add_months(chrono::Months::new(months))
        .map(|d| d.to_string())
        .ok_or_else(|| DbError::Invalid(format!("{date} + {months} months is out of range")))
}

pub(super) fn add_days(date: &str, days: u32) -> DbResult<String> {
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map_err(|_| DbError::Invalid(format!("`{date}` is not a date")))?;
    Ok((d + chrono::Days::new(u64::from(days))).to_string())
}

impl RecurringStore for SqliteDb {
    fn create_recurring(&self, tenant: &TenantId, new: &NewRecurring) -> DbResult<Recurring> {
        add_months(&new.next_date, 0)?;
        let conn = self.conn()?;
        conn.prepare_cached("INSERT INTO recurring_invoices (tenant_id, customer_id, user_id, currency, description, amount, interval_months, next_date, due_days)
             SELECT ?1, id, ?3, ?4, ?5, ?6, ?7, ?8, ?9 FROM customers WHERE tenant_id = ?1 AND id = ?2")?.execute(
            params![
                tenant.as_str(),
                new.customer_id,
                new.user_id,
                new.currency.to_ascii_lowercase(),
                new.description,
                new.amount,
                new.interval_months.max(1),
                new.next_date,
                new.due_days
            ],
        )?;
        if conn.changes() == 0 {
            return Err(DbError::NotFound(format!("customer {}", new.customer_id)));
        }
        let id = conn.last_insert_rowid();
        conn.prepare_cached(&format!(
            "SELECT {RECURRING_COLUMNS} FROM recurring_invoices WHERE tenant_id = ?1 AND id = ?2"
        ))?
        .query_row(params![tenant.as_str(), id], recurring_row)
        .map_err(Into::into)
    }

    fn recurring(&self, tenant: &TenantId) -> DbResult<Vec<Recurring>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {RECURRING_COLUMNS} FROM recurring_invoices WHERE tenant_id = ?1 ORDER BY id"
        ))?;
        let rows = stmt
            .query_map(params![tenant.as_str()], recurring_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn generate_due(&self, tenant: &TenantId, today: &str) -> DbResult<Vec<i64>> {
        let mut generated = Vec::new();
        let ids: Vec<i64> = {
            let conn = self.conn()?;
            let mut stmt = conn.prepare_cached(
                "SELECT id FROM recurring_invoices WHERE tenant_id = ?1 AND active = 1 AND next_date <= ?2 ORDER BY id",
            )?;
            stmt.query_map(params![tenant.as_str(), today], |r| r.get(0))?
                .collect::<Result<Vec<_>, _>>()?
        };
        for id in ids {
            let mut conn = self.conn()?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Read again under the write lock: another run may have generated it meanwhile.
            loop {
                let Some(r) = tx
                    .prepare_cached(&format!(
                            "SELECT {RECURRING_COLUMNS} FROM recurring_invoices WHERE tenant_id = ?1 AND id = ?2 AND active = 1 AND next_date <= ?3"
                        ))?.query_row(
                        params![tenant.as_str(), id, today],
                        recurring_row,
                    )
                    .optional()?
                else {
                    break;
                };
                let number = format!("R{}-{}", r.id, r.next_date.replace('-', ""));
                tx.prepare_cached("INSERT INTO invoices (tenant_id, number, customer_id, user_id, currency, issue_date, due_date, recurring_invoice_id, status, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'awaiting_payment', ?9)")?.execute(
                    params![
                        tenant.as_str(),
                        number,
                        r.customer_id,
                        r.user_id,
                        r.currency,
                        r.next_date,
                        add_days(&r.next_date, r.due_days)?,
                        r.id,
                        now()
                    ],
                )
                .map_err(|e| conflict_on_unique(e, &format!("invoice {number} exists")))?;
                let invoice = tx.last_insert_rowid();
                tx.prepare_cached("INSERT INTO invoice_lines (tenant_id, invoice_id, description, amount) VALUES (?1, ?2, ?3, ?4)")?.execute(
                    params![tenant.as_str(), invoice, r.description, r.amount],
                )?;
                tx.prepare_cached(
                    "UPDATE recurring_invoices SET next_date = ?3 WHERE tenant_id = ?1 AND id = ?2",
                )?
                .execute(params![
                    tenant.as_str(),
                    r.id,
                    add_months(&r.next_date, r.interval_months)?
                ])?;
                generated.push(invoice);
            }
            tx.commit()?;
        }
        Ok(generated)
    }

    fn audit_entries(&self, tenant: &TenantId, limit: u32) -> DbResult<Vec<AuditRecord>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT id, at, invoice_id, action, reason, amount, currency FROM audit_log WHERE tenant_id = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![tenant.as_str(), limit.min(10_000)], |r| {
                let amount: Option<i64> = r.get(5)?;
                let currency: Option<String> = r.get(6)?;
                Ok(AuditRecord {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    entry: AuditEntry {
                        invoice_id: r.get(2)?,
                        action: r.get(3)?,
                        reason: r.get(4)?,
                        amount: amount
                            .zip(currency)
                            .map(|(amount, currency)| crate::contract::Money { amount, currency }),
                    },
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}
