//! The helpdesk records in PostgreSQL: customers, users, agents, invoices with lines, payment
//! records, email templates and the audit trail. Every statement filters on the tenant id, so an
//! id of another tenant is "not found".
//!
//! Where SQLite serialises writers with one write lock, PostgreSQL locks rows: writing a payment
//! attempt and settling one both lock the invoice row first (`FOR UPDATE`, in id order for a
//! pay-all), so the check that an invoice is payable and the claim, or a settlement and the
//! invoice's paid status, never interleave with another host's; the unique index on open records
//! refuses a second open attempt whatever the caller checked. An invoice is read in one snapshot.

use postgres::Row;
use postgres::types::ToSql;

use super::{Begin, PgConn, PgDb, conflict_on_unique, to_u32};
use crate::contract::{
    Agent, AuditEntry, Customer, EmailTemplate, Initiator, Invoice, InvoiceAccessLevel,
    InvoiceFilter, InvoiceLine, InvoicePayment, Money, NewPayment, PaymentFilter, PaymentStatus,
    PaymentUpdate, User,
};
use crate::db::names::{
    access_level, access_level_name, invoice_status, invoice_status_name, method_type_name,
    payment_status, payment_status_name,
};
use crate::db::payments::{check_payable, initiator_columns};
use crate::db::{
    Anomaly, AuditStore, CustomerStore, DbError, DbResult, InvoiceStore, NewAgent, NewCustomer,
    NewInvoice, NewUser, PaymentStore, TemplateStore, UserStore, now,
};
use crate::settings::method_type;
use crate::tenant::TenantId;
use paydesk_plugin::domain::limits;
use paydesk_plugin::domain::money::MinorUnits;

const CUSTOMER_COLUMNS: &str = "id, name, accounts_email, accounts_cc_email, stripe_customer_id, \
     stripe_payment_method_id, stripe_payment_method_name, stripe_sync_error";

fn customer_row(r: &Row) -> DbResult<Customer> {
    Ok(Customer {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        accounts_email: r.try_get(2)?,
        accounts_cc_email: r.try_get(3)?,
        stripe_customer_id: r.try_get(4)?,
        stripe_payment_method_id: r.try_get(5)?,
        stripe_payment_method_name: r.try_get(6)?,
        stripe_sync_error: r.try_get(7)?,
    })
}

const PAYMENT_COLUMNS: &str = "id, invoice_id, group_id, intent_id, status, method, method_type, \
     amount, fee, currency, initiator_kind, initiator_id, attempt, failure_reason, failure_code, \
     last_event_id, webhook_received_at, created_at, updated_at, version, observed_at";

fn payment_row(r: &Row) -> DbResult<InvoicePayment> {
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
        method_type: r
            .try_get::<_, Option<String>>(6)?
            .and_then(|t| method_type(&t)),
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

const INVOICE_COLUMNS: &str = "id, number, customer_id, user_id, currency, issue_date, due_date, \
     recurring_invoice_id, status";

fn user_row(r: &Row) -> DbResult<User> {
    Ok(User {
        id: r.try_get(0)?,
        customer_id: r.try_get(1)?,
        name: r.try_get(2)?,
        email: r.try_get(3)?,
        invoice_access_level: access_level(&r.try_get::<_, String>(4)?),
    })
}

fn agent_row(r: &Row) -> DbResult<Agent> {
    Ok(Agent {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        email: r.try_get(2)?,
        can_receive_manual_stripe_payments: r.try_get(3)?,
        is_admin: r.try_get(4)?,
    })
}

/// Read one invoice with its lines and what is still due.
fn load_invoice(conn: &mut PgConn, tenant: &str, id: i64) -> DbResult<Invoice> {
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
    let total = MinorUnits::checked_sum(invoice.lines.iter().map(|l| MinorUnits(l.amount)));
    let paid = MinorUnits::checked_sum(
        paid.into_iter()
            .flat_map(|(amount, fee)| [MinorUnits(amount), MinorUnits(fee)]),
    );
    invoice.amount_due = total
        .and_then(|total| paid.and_then(|paid| total.checked_sub(paid)))
        .map_err(|_| {
            DbError::Invalid(format!(
                "invoice {}: its lines and payments add up beyond what can be computed; it cannot be paid",
                invoice.number
            ))
        })?
        .0;
    Ok(invoice)
}

fn load_payment(conn: &mut PgConn, tenant: &str, id: i64) -> DbResult<InvoicePayment> {
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

/// Lock an invoice row until the transaction ends; `false` when there is no such invoice.
fn lock_invoice(conn: &mut PgConn, tenant: &str, id: i64) -> DbResult<bool> {
    Ok(conn
        .query_opt(
            "SELECT id FROM invoices WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
            &[&tenant, &id],
        )?
        .is_some())
}

/// Apply a succeeded payment to its invoice (locked by the caller): fee line, then paid when
/// nothing is due.
fn settle(
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

impl CustomerStore for PgDb {
    fn create_customer(&self, tenant: &TenantId, new: &NewCustomer) -> DbResult<Customer> {
        let row = self.conn()?.query_opt(
            &format!(
                "INSERT INTO customers (tenant_id, name, accounts_email, accounts_cc_email) VALUES ($1, $2, $3, $4)
                 RETURNING {CUSTOMER_COLUMNS}"
            ),
            &[&tenant.as_str(), &new.name, &new.accounts_email, &new.accounts_cc_email],
        )?;
        customer_row(&row.ok_or_else(|| DbError::NotFound("customer".into()))?)
    }

    fn update_customer(&self, tenant: &TenantId, id: i64, new: &NewCustomer) -> DbResult<Customer> {
        let row = self.conn()?.query_opt(
            &format!(
                "UPDATE customers SET name = $3, accounts_email = $4, accounts_cc_email = $5
                 WHERE tenant_id = $1 AND id = $2 RETURNING {CUSTOMER_COLUMNS}"
            ),
            &[
                &tenant.as_str(),
                &id,
                &new.name,
                &new.accounts_email,
                &new.accounts_cc_email,
            ],
        )?;
        customer_row(&row.ok_or_else(|| DbError::NotFound(format!("customer {id}")))?)
    }

    fn customer(&self, tenant: &TenantId, id: i64) -> DbResult<Customer> {
        let row = self
            .conn()?
            .query_opt(
                &format!(
                    "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE tenant_id = $1 AND id = $2"
                ),
                &[&tenant.as_str(), &id],
            )?
            .ok_or_else(|| DbError::NotFound(format!("customer {id}")))?;
        customer_row(&row)
    }

    fn customers(
        &self,
        tenant: &TenantId,
        after: Option<i64>,
        limit: u32,
    ) -> DbResult<Vec<Customer>> {
        self.conn()?
            .query(
                &format!(
                    "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
                ),
                &[&tenant.as_str(), &after.unwrap_or(0), &i64::from(limit.min(1000))],
            )?
            .iter()
            .map(customer_row)
            .collect()
    }

    fn set_stripe_customer_id(
        &self,
        tenant: &TenantId,
        id: i64,
        stripe_id: Option<&str>,
    ) -> DbResult<()> {
        let changed = self
            .conn()?
            .execute(
                "UPDATE customers SET stripe_customer_id = $3 WHERE tenant_id = $1 AND id = $2",
                &[&tenant.as_str(), &id, &stripe_id],
            )
            .map_err(|e| {
                conflict_on_unique(
                    e,
                    &format!(
                        "Stripe customer {} is already mapped to another customer",
                        stripe_id.unwrap_or_default()
                    ),
                )
            })?;
        if changed == 0 {
            return Err(DbError::NotFound(format!("customer {id}")));
        }
        Ok(())
    }

    fn set_automatic_payment_method(
        &self,
        tenant: &TenantId,
        id: i64,
        method: Option<(&str, &str)>,
    ) -> DbResult<()> {
        let changed = self.conn()?.execute(
            "UPDATE customers SET stripe_payment_method_id = $3, stripe_payment_method_name = $4
             WHERE tenant_id = $1 AND id = $2",
            &[
                &tenant.as_str(),
                &id,
                &method.map(|m| m.0),
                &method.map(|m| m.1),
            ],
        )?;
        if changed == 0 {
            return Err(DbError::NotFound(format!("customer {id}")));
        }
        Ok(())
    }

    fn set_stripe_sync_error(
        &self,
        tenant: &TenantId,
        id: i64,
        error: Option<&str>,
    ) -> DbResult<()> {
        let changed = self.conn()?.execute(
            "UPDATE customers SET stripe_sync_error = $3 WHERE tenant_id = $1 AND id = $2",
            &[&tenant.as_str(), &id, &error],
        )?;
        if changed == 0 {
            return Err(DbError::NotFound(format!("customer {id}")));
        }
        Ok(())
    }
}

impl UserStore for PgDb {
    fn create_user(&self, tenant: &TenantId, new: &NewUser) -> DbResult<User> {
        self.customer(tenant, new.customer_id)?;
        let row = self
            .conn()?
            .query_opt(
                "INSERT INTO users (tenant_id, customer_id, name, email, invoice_access_level) VALUES ($1, $2, $3, $4, $5)
                 RETURNING id, customer_id, name, email, invoice_access_level",
                &[
                    &tenant.as_str(),
                    &new.customer_id,
                    &new.name,
                    &new.email,
                    &access_level_name(new.invoice_access_level),
                ],
            )
            .map_err(|e| conflict_on_unique(e, &format!("a user with email {} exists", new.email)))?;
        user_row(&row.ok_or_else(|| DbError::NotFound("user".into()))?)
    }

    fn user(&self, tenant: &TenantId, id: i64) -> DbResult<User> {
        let row = self
            .conn()?
            .query_opt(
                "SELECT id, customer_id, name, email, invoice_access_level FROM users WHERE tenant_id = $1 AND id = $2",
                &[&tenant.as_str(), &id],
            )?
            .ok_or_else(|| DbError::NotFound(format!("user {id}")))?;
        user_row(&row)
    }

    fn create_agent(&self, tenant: &TenantId, new: &NewAgent) -> DbResult<Agent> {
        let row = self
            .conn()?
            .query_opt(
                "INSERT INTO agents (tenant_id, name, email, can_receive_manual_stripe_payments, is_admin) VALUES ($1, $2, $3, $4, $5)
                 RETURNING id, name, email, can_receive_manual_stripe_payments, is_admin",
                &[
                    &tenant.as_str(),
                    &new.name,
                    &new.email,
                    &new.can_receive_manual_stripe_payments,
                    &new.is_admin,
                ],
            )
            .map_err(|e| conflict_on_unique(e, &format!("an agent with email {} exists", new.email)))?;
        agent_row(&row.ok_or_else(|| DbError::NotFound("agent".into()))?)
    }

    fn agent(&self, tenant: &TenantId, id: i64) -> DbResult<Agent> {
        let row = self
            .conn()?
            .query_opt(
                "SELECT id, name, email, can_receive_manual_stripe_payments, is_admin FROM agents WHERE tenant_id = $1 AND id = $2",
                &[&tenant.as_str(), &id],
            )?
            .ok_or_else(|| DbError::NotFound(format!("agent {id}")))?;
        agent_row(&row)
    }

    fn agents(&self, tenant: &TenantId) -> DbResult<Vec<Agent>> {
        self.conn()?
            .query(
                "SELECT id, name, email, can_receive_manual_stripe_payments, is_admin FROM agents WHERE tenant_id = $1 ORDER BY id",
                &[&tenant.as_str()],
            )?
            .iter()
            .map(agent_row)
            .collect()
    }

    fn users(&self, tenant: &TenantId) -> DbResult<Vec<User>> {
        self.conn()?
            .query(
                "SELECT id, customer_id, name, email, invoice_access_level FROM users WHERE tenant_id = $1 ORDER BY id",
                &[&tenant.as_str()],
            )?
            .iter()
            .map(user_row)
            .collect()
    }

    fn set_agent_permissions(
        &self,
        tenant: &TenantId,
        id: i64,
        can_receive: bool,
        is_admin: bool,
    ) -> DbResult<()> {
        let changed = self.conn()?.execute(
            "UPDATE agents SET can_receive_manual_stripe_payments = $3, is_admin = $4 WHERE tenant_id = $1 AND id = $2",
            &[&tenant.as_str(), &id, &can_receive, &is_admin],
        )?;
        if changed == 0 {
            return Err(DbError::NotFound(format!("agent {id}")));
        }
        Ok(())
    }

    fn set_invoice_access(
        &self,
        tenant: &TenantId,
        id: i64,
        level: InvoiceAccessLevel,
    ) -> DbResult<()> {
        let changed = self.conn()?.execute(
            "UPDATE users SET invoice_access_level = $3 WHERE tenant_id = $1 AND id = $2",
            &[&tenant.as_str(), &id, &access_level_name(level)],
        )?;
        if changed == 0 {
            return Err(DbError::NotFound(format!("user {id}")));
        }
        Ok(())
    }
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

impl PaymentStore for PgDb {
    fn create_payments(
        &self,
        tenant: &TenantId,
        new: &[NewPayment],
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
                check_payable(&invoice, p)?;
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
                            &p.method_type.map(method_type_name),
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
                    &update.method_type.map(method_type_name),
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

impl TemplateStore for PgDb {
    fn email_template(&self, tenant: &TenantId, id: u32) -> DbResult<EmailTemplate> {
        let row = self
            .conn()?
            .query_opt(
                "SELECT id, name, subject, body FROM email_templates WHERE tenant_id = $1 AND id = $2",
                &[&tenant.as_str(), &i64::from(id)],
            )?
            .ok_or_else(|| DbError::NotFound(format!("email template {id}")))?;
        Ok(EmailTemplate {
            id: to_u32(row.try_get(0)?),
            name: row.try_get(1)?,
            subject: row.try_get(2)?,
            body: row.try_get(3)?,
        })
    }

    fn save_email_template(&self, tenant: &TenantId, t: &EmailTemplate) -> DbResult<()> {
        let changed = self.conn()?.execute(
            "UPDATE email_templates SET name = $3, subject = $4, body = $5 WHERE tenant_id = $1 AND id = $2",
            &[&tenant.as_str(), &i64::from(t.id), &t.name, &t.subject, &t.body],
        )?;
        if changed == 0 {
            return Err(DbError::NotFound(format!("email template {}", t.id)));
        }
        Ok(())
    }
}

impl AuditStore for PgDb {
    fn audit(&self, tenant: &TenantId, entries: &[AuditEntry]) -> DbResult<()> {
        let at = now();
        self.tx(Begin::Write, |tx| {
            for e in entries {
                // An anomaly already kept is not kept again (`audit_log_one_anomaly`).
                tx.execute(
                    "INSERT INTO audit_log (tenant_id, at, invoice_id, action, reason, amount, currency)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                    &[
                        &tenant.as_str(),
                        &at,
                        &e.invoice_id,
                        &e.action,
                        &e.reason,
                        &e.amount.as_ref().map(|m| m.amount),
                        &e.amount.as_ref().map(|m| m.currency.clone()),
                    ],
                )?;
            }
            Ok(())
        })
    }

    fn anomalies(&self, tenant: &TenantId, invoice_id: i64) -> DbResult<Vec<Anomaly>> {
        self.conn()?
            .query(
                "SELECT at, reason FROM audit_log WHERE tenant_id = $1 AND invoice_id = $2 AND action = 'anomaly' ORDER BY id",
                &[&tenant.as_str(), &invoice_id],
            )?
            .iter()
            .map(|r| {
                let reason: String = r.try_get(1)?;
                Ok(Anomaly {
                    payment_id: paydesk_plugin::domain::settlement::payment_of_reason(&reason),
                    reason,
                    at: r.try_get(0)?,
                })
            })
            .collect()
    }
}
