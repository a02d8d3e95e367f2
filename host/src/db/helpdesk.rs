//! The helpdesk records in SQLite: customers, users, agents, invoices with lines, payment records,
//! email templates and the audit trail. Every statement filters on the tenant id, so an id of
//! another tenant is "not found". A payment update and its effect on the invoice (fee line, paid)
//! happen in one transaction. An invoice's lines are bounded when it is created and what is due is
//! added up with checked arithmetic, so no amount ever wraps.

use rusqlite::{OptionalExtension, Transaction, params, params_from_iter, types::Value};

use super::sqlite::{SqliteDb, conflict_on_unique};
use super::{
    Anomaly, DbError, DbResult, HelpdeskStore, NewAgent, NewCustomer, NewInvoice, NewUser, now,
};
use crate::runtime::bindings::{
    Agent, AuditEntry, Customer, EmailTemplate, Initiator, Invoice, InvoiceAccessLevel,
    InvoiceFilter, InvoiceLine, InvoicePayment, InvoiceStatus, Money, NewPayment, PaymentFilter,
    PaymentMethodType, PaymentStatus, PaymentUpdate, User,
};
use crate::settings::method_type;
use crate::tenant::TenantId;
use paydesk_plugin::domain::limits;
use paydesk_plugin::domain::money::MinorUnits;

pub fn access_level_name(l: InvoiceAccessLevel) -> &'static str {
    match l {
        InvoiceAccessLevel::None => "none",
        InvoiceAccessLevel::AddressedToUser => "own",
        InvoiceAccessLevel::Customer => "customer",
    }
}

pub(super) fn access_level(s: &str) -> InvoiceAccessLevel {
    match s {
        "own" => InvoiceAccessLevel::AddressedToUser,
        "customer" => InvoiceAccessLevel::Customer,
        _ => InvoiceAccessLevel::None,
    }
}

pub fn invoice_status_name(s: InvoiceStatus) -> &'static str {
    match s {
        InvoiceStatus::AwaitingPayment => "awaiting_payment",
        InvoiceStatus::Paid => "paid",
        InvoiceStatus::Void => "void",
    }
}

pub(super) fn invoice_status(s: &str) -> InvoiceStatus {
    match s {
        "paid" => InvoiceStatus::Paid,
        "void" => InvoiceStatus::Void,
        _ => InvoiceStatus::AwaitingPayment,
    }
}

pub fn payment_status_name(s: PaymentStatus) -> &'static str {
    match s {
        PaymentStatus::RequiresPaymentMethod => "requires_payment_method",
        PaymentStatus::RequiresAction => "requires_action",
        PaymentStatus::Processing => "processing",
        PaymentStatus::Succeeded => "succeeded",
        PaymentStatus::Failed => "failed",
        PaymentStatus::Canceled => "canceled",
    }
}

pub(super) fn payment_status(s: &str) -> PaymentStatus {
    match s {
        "requires_action" => PaymentStatus::RequiresAction,
        "processing" => PaymentStatus::Processing,
        "succeeded" => PaymentStatus::Succeeded,
        "failed" => PaymentStatus::Failed,
        "canceled" => PaymentStatus::Canceled,
        _ => PaymentStatus::RequiresPaymentMethod,
    }
}

pub fn method_type_name(t: PaymentMethodType) -> &'static str {
    match t {
        PaymentMethodType::Card => "card",
        PaymentMethodType::UsBankAccount => "us_bank_account",
        PaymentMethodType::AcssDebit => "acss_debit",
        PaymentMethodType::SepaDebit => "sepa_debit",
        PaymentMethodType::BacsDebit => "bacs_debit",
        PaymentMethodType::AuBecsDebit => "au_becs_debit",
        PaymentMethodType::Link => "link",
    }
}

pub(super) fn initiator_columns(i: &Initiator) -> (&'static str, Option<i64>) {
    match i {
        Initiator::Agent(id) => ("agent", Some(*id)),
        Initiator::PortalUser(id) => ("portal_user", Some(*id)),
        Initiator::Autopay => ("autopay", None),
    }
}

const CUSTOMER_COLUMNS: &str = "id, name, accounts_email, accounts_cc_email, stripe_customer_id, \
     stripe_payment_method_id, stripe_payment_method_name, stripe_sync_error";

fn customer_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Customer> {
    Ok(Customer {
        id: r.get(0)?,
        name: r.get(1)?,
        accounts_email: r.get(2)?,
        accounts_cc_email: r.get(3)?,
        stripe_customer_id: r.get(4)?,
        stripe_payment_method_id: r.get(5)?,
        stripe_payment_method_name: r.get(6)?,
        stripe_sync_error: r.get(7)?,
    })
}

const PAYMENT_COLUMNS: &str = "id, invoice_id, group_id, intent_id, status, method, method_type, \
     amount, fee, currency, initiator_kind, initiator_id, attempt, failure_reason, failure_code, \
     last_event_id, webhook_received_at, created_at, updated_at, version, observed_at";

fn payment_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<InvoicePayment> {
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
        method_type: r.get::<_, Option<String>>(6)?.and_then(|t| method_type(&t)),
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

const INVOICE_COLUMNS: &str = "id, number, customer_id, user_id, currency, issue_date, due_date, \
     recurring_invoice_id, status";

/// Read one invoice with its lines and what is still due.
/// May a new attempt pay `invoice` for `payment`'s amount? Checked inside the transaction that
/// writes the attempt's record: awaiting payment, something due, and exactly the amount due in the
/// invoice's currency (an attempt is always for the whole amount still due).
pub(super) fn check_payable(invoice: &Invoice, payment: &NewPayment) -> DbResult<()> {
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
    if payment.amount.amount != invoice.amount_due
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
            payment.amount.amount,
            payment.amount.currency
        )));
    }
    Ok(())
}

fn load_invoice(conn: &rusqlite::Connection, tenant: &str, id: i64) -> DbResult<Invoice> {
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

fn load_payment(conn: &rusqlite::Connection, tenant: &str, id: i64) -> DbResult<InvoicePayment> {
    conn.prepare_cached(&format!(
        "SELECT {PAYMENT_COLUMNS} FROM invoice_payments WHERE tenant_id = ?1 AND id = ?2"
    ))?
    .query_row(params![tenant, id], payment_row)
    .optional()?
    .ok_or_else(|| DbError::NotFound(format!("payment {id}")))
}

/// Apply a succeeded payment to its invoice: fee line, then paid when nothing is due.
fn settle(
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

impl HelpdeskStore for SqliteDb {
    fn create_customer(&self, tenant: &TenantId, new: &NewCustomer) -> DbResult<Customer> {
        let conn = self.conn()?;
        conn.prepare_cached("INSERT INTO customers (tenant_id, name, accounts_email, accounts_cc_email) VALUES (?1, ?2, ?3, ?4)")?.execute(
            params![tenant.as_str(), new.name, new.accounts_email, new.accounts_cc_email],
        )?;
        let id = conn.last_insert_rowid();
        drop(conn);
        self.customer(tenant, id)
    }

    fn update_customer(&self, tenant: &TenantId, id: i64, new: &NewCustomer) -> DbResult<Customer> {
        let changed = self
            .conn()?
            .prepare_cached(
                "UPDATE customers SET name = ?3, accounts_email = ?4, accounts_cc_email = ?5
             WHERE tenant_id = ?1 AND id = ?2",
            )?
            .execute(params![
                tenant.as_str(),
                id,
                new.name,
                new.accounts_email,
                new.accounts_cc_email
            ])?;
        if changed == 0 {
            return Err(DbError::NotFound(format!("customer {id}")));
        }
        self.customer(tenant, id)
    }

    fn customer(&self, tenant: &TenantId, id: i64) -> DbResult<Customer> {
        self.conn()?
            .prepare_cached(&format!(
                "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE tenant_id = ?1 AND id = ?2"
            ))?
            .query_row(params![tenant.as_str(), id], customer_row)
            .optional()?
            .ok_or_else(|| DbError::NotFound(format!("customer {id}")))
    }

    fn customers(
        &self,
        tenant: &TenantId,
        after: Option<i64>,
        limit: u32,
    ) -> DbResult<Vec<Customer>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE tenant_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
        ))?;
        let rows = stmt
            .query_map(
                params![tenant.as_str(), after.unwrap_or(0), limit.min(1000)],
                customer_row,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn set_stripe_customer_id(
        &self,
        tenant: &TenantId,
        id: i64,
        stripe_id: Option<&str>,
    ) -> DbResult<()> {
        let changed = self
            .conn()?
            .prepare_cached(
                "UPDATE customers SET stripe_customer_id = ?3 WHERE tenant_id = ?1 AND id = ?2",
            )?
            .execute(params![tenant.as_str(), id, stripe_id])
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
        let changed = self.conn()?.prepare_cached("UPDATE customers SET stripe_payment_method_id = ?3, stripe_payment_method_name = ?4
             WHERE tenant_id = ?1 AND id = ?2")?.execute(
            params![
                tenant.as_str(),
                id,
                method.map(|m| m.0),
                method.map(|m| m.1)
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
        let changed = self
            .conn()?
            .prepare_cached(
                "UPDATE customers SET stripe_sync_error = ?3 WHERE tenant_id = ?1 AND id = ?2",
            )?
            .execute(params![tenant.as_str(), id, error])?;
        if changed == 0 {
            return Err(DbError::NotFound(format!("customer {id}")));
        }
        Ok(())
    }

    fn create_user(&self, tenant: &TenantId, new: &NewUser) -> DbResult<User> {
        self.customer(tenant, new.customer_id)?;
        let conn = self.conn()?;
        conn.prepare_cached("INSERT INTO users (tenant_id, customer_id, name, email, invoice_access_level) VALUES (?1, ?2, ?3, ?4, ?5)")?.execute(
            params![
                tenant.as_str(),
                new.customer_id,
                new.name,
                new.email,
                access_level_name(new.invoice_access_level)
            ],
        )
        .map_err(|e| conflict_on_unique(e, &format!("a user with email {} exists", new.email)))?;
        let id = conn.last_insert_rowid();
        drop(conn);
        self.user(tenant, id)
    }

    fn user(&self, tenant: &TenantId, id: i64) -> DbResult<User> {
        self.conn()?
            .prepare_cached("SELECT id, customer_id, name, email, invoice_access_level FROM users WHERE tenant_id = ?1 AND id = ?2")?.query_row(
                params![tenant.as_str(), id],
                |r| {
                    Ok(User {
                        id: r.get(0)?,
                        customer_id: r.get(1)?,
                        name: r.get(2)?,
                        email: r.get(3)?,
                        invoice_access_level: access_level(&r.get::<_, String>(4)?),
                    })
                },
            )
            .optional()?
            .ok_or_else(|| DbError::NotFound(format!("user {id}")))
    }

    fn create_agent(&self, tenant: &TenantId, new: &NewAgent) -> DbResult<Agent> {
        let conn = self.conn()?;
        conn.prepare_cached("INSERT INTO agents (tenant_id, name, email, can_receive_manual_stripe_payments, is_admin) VALUES (?1, ?2, ?3, ?4, ?5)")?.execute(
            params![tenant.as_str(), new.name, new.email, new.can_receive_manual_stripe_payments, new.is_admin],
        )
        .map_err(|e| conflict_on_unique(e, &format!("an agent with email {} exists", new.email)))?;
        let id = conn.last_insert_rowid();
        drop(conn);
        self.agent(tenant, id)
    }

    fn agent(&self, tenant: &TenantId, id: i64) -> DbResult<Agent> {
        self.conn()?
            .prepare_cached("SELECT id, name, email, can_receive_manual_stripe_payments, is_admin FROM agents WHERE tenant_id = ?1 AND id = ?2")?.query_row(
                params![tenant.as_str(), id],
                |r| {
                    Ok(Agent {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        email: r.get(2)?,
                        can_receive_manual_stripe_payments: r.get(3)?,
                        is_admin: r.get(4)?,
                    })
                },
            )
            .optional()?
            .ok_or_else(|| DbError::NotFound(format!("agent {id}")))
    }

    fn agents(&self, tenant: &TenantId) -> DbResult<Vec<Agent>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT id, name, email, can_receive_manual_stripe_payments, is_admin FROM agents WHERE tenant_id = ?1 ORDER BY id",
        )?;
        let rows = stmt
            .query_map(params![tenant.as_str()], |r| {
                Ok(Agent {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    email: r.get(2)?,
                    can_receive_manual_stripe_payments: r.get(3)?,
                    is_admin: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn users(&self, tenant: &TenantId) -> DbResult<Vec<User>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT id, customer_id, name, email, invoice_access_level FROM users WHERE tenant_id = ?1 ORDER BY id",
        )?;
        let rows = stmt
            .query_map(params![tenant.as_str()], |r| {
                Ok(User {
                    id: r.get(0)?,
                    customer_id: r.get(1)?,
                    name: r.get(2)?,
                    email: r.get(3)?,
                    invoice_access_level: access_level(&r.get::<_, String>(4)?),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn set_agent_permissions(
        &self,
        tenant: &TenantId,
        id: i64,
        can_receive: bool,
        is_admin: bool,
    ) -> DbResult<()> {
        let changed = self.conn()?.prepare_cached("UPDATE agents SET can_receive_manual_stripe_payments = ?3, is_admin = ?4 WHERE tenant_id = ?1 AND id = ?2")?.execute(
            params![tenant.as_str(), id, can_receive, is_admin],
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
        let changed = self
            .conn()?
            .prepare_cached(
                "UPDATE users SET invoice_access_level = ?3 WHERE tenant_id = ?1 AND id = ?2",
            )?
            .execute(params![tenant.as_str(), id, access_level_name(level)])?;
        if changed == 0 {
            return Err(DbError::NotFound(format!("user {id}")));
        }
        Ok(())
    }

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

    fn create_payments(
        &self,
        tenant: &TenantId,
        new: &[NewPayment],
    ) -> DbResult<Vec<InvoicePayment>> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut created = Vec::with_capacity(new.len());
        for p in new {
            // The check that the invoice is payable and the claim are one transaction: the
            // write lock is taken first (IMMEDIATE), and the unique index on open records
            // (schema_7) refuses a second open attempt whatever the caller checked before.
            let invoice = load_invoice(&tx, tenant.as_str(), p.invoice_id)?;
            check_payable(&invoice, p)?;
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
                    p.method_type.map(method_type_name),
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
            update.method_type.map(method_type_name),
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

    fn email_template(&self, tenant: &TenantId, id: u32) -> DbResult<EmailTemplate> {
        self.conn()?
            .prepare_cached("SELECT id, name, subject, body FROM email_templates WHERE tenant_id = ?1 AND id = ?2")?.query_row(
                params![tenant.as_str(), id],
                |r| {
                    Ok(EmailTemplate {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        subject: r.get(2)?,
                        body: r.get(3)?,
                    })
                },
            )
            .optional()?
            .ok_or_else(|| DbError::NotFound(format!("email template {id}")))
    }

    fn save_email_template(&self, tenant: &TenantId, t: &EmailTemplate) -> DbResult<()> {
        let changed = self.conn()?.prepare_cached("UPDATE email_templates SET name = ?3, subject = ?4, body = ?5 WHERE tenant_id = ?1 AND id = ?2")?.execute(
            params![tenant.as_str(), t.id, t.name, t.subject, t.body],
        )?;
        if changed == 0 {
            return Err(DbError::NotFound(format!("email template {}", t.id)));
        }
        Ok(())
    }

    fn audit(&self, tenant: &TenantId, entries: &[AuditEntry]) -> DbResult<()> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let at = now();
        for e in entries {
            // An anomaly already kept is not kept again (`audit_log_one_anomaly`).
            tx.prepare_cached("INSERT INTO audit_log (tenant_id, at, invoice_id, action, reason, amount, currency) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING")?.execute(
                params![
                    tenant.as_str(),
                    at,
                    e.invoice_id,
                    e.action,
                    e.reason,
                    e.amount.as_ref().map(|m| m.amount),
                    e.amount.as_ref().map(|m| m.currency.clone())
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn anomalies(&self, tenant: &TenantId, invoice_id: i64) -> DbResult<Vec<Anomaly>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT at, reason FROM audit_log WHERE tenant_id = ?1 AND invoice_id = ?2 AND action = 'anomaly' ORDER BY id",
        )?;
        let rows = stmt
            .query_map(params![tenant.as_str(), invoice_id], |r| {
                let reason: String = r.get(1)?;
                Ok(Anomaly {
                    payment_id: paydesk_plugin::domain::settlement::payment_of_reason(&reason),
                    reason,
                    at: r.get(0)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}
