//! The records that are the host's alone, as every store takes and gives them: tenants, new
//! customers, users, agents and invoices, plugin storage entries, outbox messages, recurring
//! invoices, audit rows and anomalies. Helpdesk records the plugin sees are the contract's types.

use crate::contract::{AuditEntry, InvoiceAccessLevel};
use crate::settings::TenantSettings;
use crate::tenant::TenantId;

/// A tenant as the host holds it. Secrets are separate (`TenantStore::secret_key`).
#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub settings: TenantSettings,
    pub invoice_mailbox: String,
    pub has_secret_key: bool,
    pub has_webhook_secret: bool,
    pub autopay_last_run: Option<i64>,
    pub autopay_last_error: Option<String>,
    /// Its own sandbox and Stripe limits (unset: the platform's), read with the tenant on every
    /// call, so a change holds on every host at the next call.
    pub limits: crate::limits::TenantLimits,
    /// The SHA-256 (hex) of the registered plugin component it runs on ([`PluginStore`]), read
    /// with the tenant on every call; `None`: the binary's embedded component.
    ///
    /// [`PluginStore`]: super::PluginStore
    pub plugin: Option<String>,
}

/// A new customer.
#[derive(Debug, Clone, Default)]
pub struct NewCustomer {
    pub name: String,
    pub accounts_email: Option<String>,
    pub accounts_cc_email: Option<String>,
}

/// A new portal user.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub customer_id: i64,
    pub name: String,
    pub email: String,
    pub invoice_access_level: InvoiceAccessLevel,
}

/// A new agent.
#[derive(Debug, Clone)]
pub struct NewAgent {
    pub name: String,
    pub email: String,
    pub can_receive_manual_stripe_payments: bool,
    pub is_admin: bool,
}

/// A new invoice with its lines.
#[derive(Debug, Clone)]
pub struct NewInvoice {
    pub number: String,
    pub customer_id: i64,
    pub user_id: Option<i64>,
    pub currency: String,
    pub issue_date: String,
    pub due_date: String,
    pub recurring_invoice_id: Option<i64>,
    /// (description, amount in minor units).
    pub lines: Vec<(String, i64)>,
}

/// A value in the plugin's key/value storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    pub key: String,
    pub value: Vec<u8>,
    pub version: u64,
    pub updated_at: i64,
}

/// An email waiting in (or sent from) the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    pub id: i64,
    pub tenant_id: String,
    pub from: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub html: String,
    pub text: String,
    pub status: String,
    pub attempts: u32,
    /// Why the last try (or queueing it) failed.
    pub last_error: Option<String>,
    pub dedup_key: Option<String>,
}

/// A message to queue.
#[derive(Debug, Clone)]
pub struct NewEmail {
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub html: String,
    pub text: String,
    pub dedup_key: Option<String>,
    /// Why it cannot be sent (e.g. a recipient that is no email address): kept as `failed`, with
    /// this as its error, so the outbox shows what happened; never delivered.
    pub undeliverable: Option<String>,
}

/// An intent Stripe reported that was not applied to a payment record (it was another intent than
/// the record's own, or its success did not cover what the record expects), from the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anomaly {
    /// The payment record it is about (read from the reason's `payment {id}: `).
    pub payment_id: Option<i64>,
    pub reason: String,
    /// When it was first kept (Unix seconds).
    pub at: i64,
}

/// A recurring invoice: the schedule that generates invoices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recurring {
    pub id: i64,
    pub customer_id: i64,
    pub user_id: Option<i64>,
    pub currency: String,
    pub description: String,
    pub amount: i64,
    pub interval_months: u32,
    /// The next invoice's issue date, `YYYY-MM-DD` in the tenant's time zone.
    pub next_date: String,
    /// Days from issue to due date.
    pub due_days: u32,
    pub active: bool,
}

/// A new recurring invoice.
#[derive(Debug, Clone)]
pub struct NewRecurring {
    pub customer_id: i64,
    pub user_id: Option<i64>,
    pub currency: String,
    pub description: String,
    pub amount: i64,
    pub interval_months: u32,
    pub next_date: String,
    pub due_days: u32,
}

/// An audit-trail row.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub id: i64,
    pub at: i64,
    pub entry: AuditEntry,
}

/// What waits, all tenants together ([`super::HostsStore::backlog`]), counted at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Outbox messages not yet sent.
    pub queued_emails: i64,
    /// Payment records still open (`requires_payment_method`, `requires_action`, `processing`)
    /// that hold their invoice's claim: the unique index's rows.
    pub open_payments: i64,
}

/// A plugin component in the registry ([`super::PluginStore`]), without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginRecord {
    /// SHA-256 of the component's bytes, lower-case hex: what names it everywhere.
    pub sha256: String,
    /// The name it was added under, unique in the registry.
    pub version: String,
    /// The `paydesk:stripe` version its exports name, e.g. `0.2.0`.
    pub contract_version: String,
    pub size: u64,
    pub added_at: i64,
}

/// A component to add to the registry, checked by the caller (it loads on this host).
#[derive(Debug, Clone)]
pub struct NewPlugin<'a> {
    pub sha256: &'a str,
    pub version: &'a str,
    pub contract_version: &'a str,
    pub wasm: &'a [u8],
}

/// One `plugin use`: the component some tenants were moved to, and where each came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginRollout {
    pub id: i64,
    pub at: i64,
    /// The component moved to (SHA-256); `None`: the binary's embedded component.
    pub plugin: Option<String>,
    /// How the tenants were chosen, as the user said it (`--tenant a,b`, `--all`, `--percent 10`).
    pub selection: String,
    /// Each tenant moved, with the component it was on before (`None`: the embedded one).
    pub moved: Vec<(TenantId, Option<String>)>,
    /// When it was rolled back, if it was.
    pub undone_at: Option<i64>,
}
