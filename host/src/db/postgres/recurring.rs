//! Recurring invoices and the audit trail in PostgreSQL. Generating the invoices that are due
//! happens in one transaction per recurring invoice holding its row (`FOR UPDATE`, which reads the
//! row again once another run's transaction let go of it), so two runs at once, on any hosts,
//! generate each invoice once.

use postgres::Row;

use super::{Begin, PgDb, conflict_on_unique, to_u32};
use crate::contract::AuditEntry;
use crate::db::recurring::{add_days, add_months};
use crate::db::{AuditRecord, DbError, DbResult, NewRecurring, Recurring, RecurringStore, now};
use crate::tenant::TenantId;

const RECURRING_COLUMNS: &str = "id, customer_id, user_id, currency, description, amount, interval_months, next_date, due_days, active";

fn recurring_row(r: &Row) -> DbResult<Recurring> {
    Ok(Recurring {
        id: r.try_get(0)?,
        customer_id: r.try_get(1)?,
        user_id: r.try_get(2)?,
        currency: r.try_get(3)?,
        description: r.try_get(4)?,
        amount: r.try_get(5)?,
        interval_months: to_u32(r.try_get(6)?),
        next_date: r.try_get(7)?,
        due_days: to_u32(r.try_get(8)?),
        active: r.try_get(9)?,
    })
}

impl RecurringStore for PgDb {
    fn create_recurring(&self, tenant: &TenantId, new: &NewRecurring) -> DbResult<Recurring> {
        add_months(&new.next_date, 0)?;
        let row = self
            .conn()?
            .query_opt(
                &format!(
                    "INSERT INTO recurring_invoices (tenant_id, customer_id, user_id, currency, description, amount, interval_months, next_date, due_days)
                     SELECT $1::text, id, $3::bigint, $4::text, $5::text, $6::bigint, $7::bigint, $8::text, $9::bigint
                     FROM customers WHERE tenant_id = $1::text AND id = $2::bigint
                     RETURNING {RECURRING_COLUMNS}"
                ),
                &[
                    &tenant.as_str(),
                    &new.customer_id,
                    &new.user_id,
                    &new.currency.to_ascii_lowercase(),
                    &new.description,
                    &new.amount,
                    &i64::from(new.interval_months.max(1)),
                    &new.next_date,
                    &i64::from(new.due_days),
                ],
            )?
            .ok_or_else(|| DbError::NotFound(format!("customer {}", new.customer_id)))?;
        recurring_row(&row)
    }

    fn recurring(&self, tenant: &TenantId) -> DbResult<Vec<Recurring>> {
        self.conn()?
            .query(
                &format!(
                    "SELECT {RECURRING_COLUMNS} FROM recurring_invoices WHERE tenant_id = $1 ORDER BY id"
                ),
                &[&tenant.as_str()],
            )?
            .iter()
            .map(recurring_row)
            .collect()
    }

    fn generate_due(&self, tenant: &TenantId, today: &str) -> DbResult<Vec<i64>> {
        let ids: Vec<i64> = self
            .conn()?
            .query(
                "SELECT id FROM recurring_invoices WHERE tenant_id = $1 AND active AND next_date <= $2 ORDER BY id",
                &[&tenant.as_str(), &today],
            )?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        let mut generated = Vec::new();
        for id in ids {
            let mut made = self.tx(Begin::Write, |tx| {
                let mut made = Vec::new();
                // Read again holding the row: another run may have generated it meanwhile.
                loop {
                    let Some(row) = tx.query_opt(
                        &format!(
                            "SELECT {RECURRING_COLUMNS} FROM recurring_invoices
                             WHERE tenant_id = $1 AND id = $2 AND active AND next_date <= $3 FOR UPDATE"
                        ),
                        &[&tenant.as_str(), &id, &today],
                    )?
                    else {
                        break;
                    };
                    let r = recurring_row(&row)?;
                    let number = format!("R{}-{}", r.id, r.next_date.replace('-', ""));
                    let invoice: i64 = tx
                        .query_opt(
                            "INSERT INTO invoices (tenant_id, number, customer_id, user_id, currency, issue_date, due_date, recurring_invoice_id, status, created_at)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'awaiting_payment', $9) RETURNING id",
                            &[
                                &tenant.as_str(),
                                &number,
                                &r.customer_id,
                                &r.user_id,
                                &r.currency,
                                &r.next_date,
                                &add_days(&r.next_date, r.due_days)?,
                                &r.id,
                                &now(),
                            ],
                        )
                        .map_err(|e| conflict_on_unique(e, &format!("invoice {number} exists")))?
                        .ok_or_else(|| DbError::NotFound("invoice".into()))?
                        .try_get(0)?;
                    tx.execute(
                        "INSERT INTO invoice_lines (tenant_id, invoice_id, description, amount) VALUES ($1, $2, $3, $4)",
                        &[&tenant.as_str(), &invoice, &r.description, &r.amount],
                    )?;
                    tx.execute(
                        "UPDATE recurring_invoices SET next_date = $3 WHERE tenant_id = $1 AND id = $2",
                        &[&tenant.as_str(), &r.id, &add_months(&r.next_date, r.interval_months)?],
                    )?;
                    made.push(invoice);
                }
                Ok(made)
            })?;
            generated.append(&mut made);
        }
        Ok(generated)
    }

    fn audit_entries(&self, tenant: &TenantId, limit: u32) -> DbResult<Vec<AuditRecord>> {
        self.conn()?
            .query(
                "SELECT id, at, invoice_id, action, reason, amount, currency FROM audit_log WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2",
                &[&tenant.as_str(), &i64::from(limit.min(10_000))],
            )?
            .iter()
            .map(|r| {
                let amount: Option<i64> = r.try_get(5)?;
                let currency: Option<String> = r.try_get(6)?;
                Ok(AuditRecord {
                    id: r.try_get(0)?,
                    at: r.try_get(1)?,
                    entry: AuditEntry {
                        invoice_id: r.try_get(2)?,
                        action: r.try_get(3)?,
                        reason: r.try_get(4)?,
                        amount: amount.zip(currency).map(|(amount, currency)| {
                            crate::contract::Money { amount, currency }
                        }),
                    },
                })
            })
            .collect()
    }
}
