//! The storage layer behind traits, so the reference SQLite database can be swapped for PostgreSQL
//! without touching capabilities or the web app. Owns the record types that are the host's alone
//! (tenants, new records, outbox rows); helpdesk records are the WIT types themselves. Every method
//! takes the tenant id, and implementations must filter every statement on it.

mod audit;
mod auth;
mod customers;
mod disputes;
mod hosts;
mod invoices;
mod location;
mod migrations;
pub(super) mod names;
pub(super) mod payments;
mod people;
mod plugins;
pub mod postgres;
mod records;
mod recurring;
mod refunds;
mod signin;
mod sqlite;
mod templates;
mod tenants;
mod users;

pub use location::DbLocation;
pub use names::{
    access_level_name, dispute_status_name, invoice_status_name, method_type_name,
    payment_status_name,
};
pub use postgres::PgDb;
pub use records::*;
pub use sqlite::SqliteDb;

use crate::contract::{
    Agent, AuditEntry, Customer, Dispute, DisputeObservation, EmailTemplate, Invoice,
    InvoiceAccessLevel, InvoiceFilter, InvoicePayment, NewPayment, NewRefund, PaymentFilter,
    PaymentUpdate, Refund, RefundObservation, User,
};
use crate::settings::TenantSettings;
use crate::tenant::{Secret, TenantId};

/// What went wrong in the database, as the capabilities report it.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("database error: {0}")]
    Backend(BackendError),
}

/// A failure of the database engine itself (connection lost, a statement the engine refused), as
/// a message: never the connection string or its password, which no engine error carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendError {
    /// `sqlite` or `postgresql`.
    pub engine: &'static str,
    pub message: String,
    /// The engine's code for it, when it has one (PostgreSQL's SQLSTATE).
    pub code: Option<String>,
}

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.engine)
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> DbError {
        DbError::Backend(BackendError {
            engine: "sqlite",
            message: e.to_string(),
            code: None,
        })
    }
}

pub type DbResult<T> = Result<T, DbError>;

/// Tenants, their settings and secrets.
pub trait TenantStore {
    fn create_tenant(&self, id: &TenantId, name: &str, invoice_mailbox: &str) -> DbResult<Tenant>;
    fn tenant(&self, id: &TenantId) -> DbResult<Tenant>;
    fn tenants(&self) -> DbResult<Vec<Tenant>>;
    fn save_settings(&self, id: &TenantId, settings: &TenantSettings) -> DbResult<()>;
    /// Save settings and (when given) the secret key in one transaction.
    fn save_settings_and_key(
        &self,
        id: &TenantId,
        settings: &TenantSettings,
        secret_key: Option<&Secret>,
    ) -> DbResult<()>;
    fn secret_key(&self, id: &TenantId) -> DbResult<Option<Secret>>;
    /// The tenant and its secret key, read together (every plugin call needs both).
    fn tenant_with_key(&self, id: &TenantId) -> DbResult<(Tenant, Option<Secret>)> {
        Ok((self.tenant(id)?, self.secret_key(id)?))
    }
    fn set_webhook_secret(&self, id: &TenantId, secret: &Secret) -> DbResult<()>;
    fn webhook_secret(&self, id: &TenantId) -> DbResult<Option<Secret>>;
    fn record_autopay_run(&self, id: &TenantId, at: i64, error: Option<&str>) -> DbResult<()>;
}

/// A tenant's own limits ([`crate::limits`]); read with the tenant ([`Tenant::limits`]).
pub trait LimitsStore {
    /// Set the limits `set` has, clear those in `clear` and keep the others, in one statement;
    /// the tenant's limits afterwards. Values are checked by the caller
    /// ([`crate::limits::TenantLimits::check`]); the schema refuses zero and negatives.
    fn update_tenant_limits(
        &self,
        id: &TenantId,
        set: &crate::limits::TenantLimits,
        clear: &[crate::limits::LimitKind],
    ) -> DbResult<crate::limits::TenantLimits>;
}

/// The plugin registry: components stored by content hash, the tenants each runs, and the
/// history of moves (`plugin use`) that a rollback undoes. Every host reads a tenant's component
/// with the tenant on each call, so a move holds everywhere at the tenant's next call.
pub trait PluginStore {
    /// Store a component; `Conflict` when its hash or its version name is taken already.
    fn add_plugin(&self, new: &NewPlugin<'_>) -> DbResult<PluginRecord>;
    /// Every stored component, oldest first.
    fn plugins(&self) -> DbResult<Vec<PluginRecord>>;
    /// The bytes of the component with this SHA-256.
    fn plugin_wasm(&self, sha256: &str) -> DbResult<Vec<u8>>;
    /// The registered components some tenant runs (SHA-256s), for hosts to load ahead.
    fn plugins_in_use(&self) -> DbResult<Vec<String>>;
    /// Move `tenants` to the component `plugin` (`None`: the embedded one) in one transaction,
    /// recorded as one rollout; tenants already on it stay out of the record, and when none is
    /// left nothing is recorded (`None`). `NotFound` for an unknown tenant or component, and then
    /// nothing moves.
    fn move_tenants(
        &self,
        plugin: Option<&str>,
        tenants: &[TenantId],
        selection: &str,
    ) -> DbResult<Option<PluginRollout>>;
    /// Undo the latest rollout not undone yet, in one transaction: each of its tenants goes back
    /// to the component it was on, if it is still on the rollout's; the rollout with the tenants
    /// that went back. `None`: nothing to undo.
    fn roll_back_plugins(&self) -> DbResult<Option<PluginRollout>>;
    /// The latest rollouts, newest first.
    fn plugin_rollouts(&self, limit: u32) -> DbResult<Vec<PluginRollout>>;
}

/// The plugin's versioned key/value storage.
pub trait KvStore {
    fn kv_get(&self, tenant: &TenantId, key: &str) -> DbResult<Option<KvEntry>>;
    /// Create-only; `Conflict` when the key exists. Returns the version (1).
    fn kv_put_new(&self, tenant: &TenantId, key: &str, value: &[u8]) -> DbResult<u64>;
    /// Replace if the version matches; `Conflict` otherwise (`NotFound` when absent).
    fn kv_compare_and_swap(
        &self,
        tenant: &TenantId,
        key: &str,
        expected: u64,
        value: &[u8],
    ) -> DbResult<u64>;
    fn kv_delete(&self, tenant: &TenantId, key: &str, expected: Option<u64>) -> DbResult<bool>;
    fn kv_list(
        &self,
        tenant: &TenantId,
        prefix: &str,
        start_after: Option<&str>,
        limit: u32,
    ) -> DbResult<Vec<KvEntry>>;
}

/// The helpdesk's customers (`db/customers.rs`).
pub trait CustomerStore {
    fn create_customer(&self, tenant: &TenantId, new: &NewCustomer) -> DbResult<Customer>;
    fn update_customer(&self, tenant: &TenantId, id: i64, new: &NewCustomer) -> DbResult<Customer>;
    fn customer(&self, tenant: &TenantId, id: i64) -> DbResult<Customer>;
    fn customers(
        &self,
        tenant: &TenantId,
        after: Option<i64>,
        limit: u32,
    ) -> DbResult<Vec<Customer>>;
    fn set_stripe_customer_id(
        &self,
        tenant: &TenantId,
        id: i64,
        stripe_id: Option<&str>,
    ) -> DbResult<()>;
    fn set_automatic_payment_method(
        &self,
        tenant: &TenantId,
        id: i64,
        method: Option<(&str, &str)>,
    ) -> DbResult<()>;
    fn set_stripe_sync_error(
        &self,
        tenant: &TenantId,
        id: i64,
        error: Option<&str>,
    ) -> DbResult<()>;
    /// The customer's own cap on automatic charges (`stripe_autopay_max_amount`, minor units of
    /// the tenant's currency); none when it has none. Not found when the customer isn't the tenant's.
    fn autopay_cap(&self, tenant: &TenantId, id: i64) -> DbResult<Option<i64>>;
    /// Set (or clear) the customer's cap; the schema holds it to 1–99999999.
    fn set_autopay_cap(&self, tenant: &TenantId, id: i64, cap: Option<i64>) -> DbResult<()>;
    /// The customer mapped to Stripe customer `stripe_id` (the mapping is unique per tenant).
    fn customer_by_stripe_id(
        &self,
        tenant: &TenantId,
        stripe_id: &str,
    ) -> DbResult<Option<Customer>>;
    /// The customers whose automatic payment method is `pm_id`, by id, at most `limit` (an index
    /// on tenant and method finds them).
    fn customers_by_automatic_method(
        &self,
        tenant: &TenantId,
        pm_id: &str,
        limit: u32,
    ) -> DbResult<Vec<Customer>>;
    /// Set (or clear) the automatic method as Stripe showed it at `observed_at` (Stripe's clock),
    /// in one statement: only when the customer's recorded observation is not later and, with
    /// `only_if`, only while its method is still that one. Whether it was applied; not found when
    /// the customer isn't the tenant's.
    fn observe_automatic_payment_method(
        &self,
        tenant: &TenantId,
        id: i64,
        method: Option<(&str, &str)>,
        observed_at: i64,
        only_if: Option<&str>,
    ) -> DbResult<bool>;
    /// The caps of the tenant's customers with ids in `(after, through]` that have one, by id.
    fn autopay_caps(
        &self,
        tenant: &TenantId,
        after: Option<i64>,
        through: i64,
    ) -> DbResult<Vec<(i64, i64)>>;
}

/// The helpdesk's portal users and agents (`db/users.rs`).
pub trait UserStore {
    fn create_user(&self, tenant: &TenantId, new: &NewUser) -> DbResult<User>;
    fn user(&self, tenant: &TenantId, id: i64) -> DbResult<User>;
    fn create_agent(&self, tenant: &TenantId, new: &NewAgent) -> DbResult<Agent>;
    fn agent(&self, tenant: &TenantId, id: i64) -> DbResult<Agent>;
    /// Every agent, by id.
    fn agents(&self, tenant: &TenantId) -> DbResult<Vec<Agent>>;
    /// Every portal user, by id.
    fn users(&self, tenant: &TenantId) -> DbResult<Vec<User>>;
    /// Change an agent's permissions.
    fn set_agent_permissions(
        &self,
        tenant: &TenantId,
        id: i64,
        can_receive: bool,
        is_admin: bool,
    ) -> DbResult<()>;
    /// Change a portal user's invoice access level.
    fn set_invoice_access(
        &self,
        tenant: &TenantId,
        id: i64,
        level: InvoiceAccessLevel,
    ) -> DbResult<()>;
}

/// Invoices with their lines and what is due (`db/invoices.rs`).
pub trait InvoiceStore {
    fn create_invoice(&self, tenant: &TenantId, new: &NewInvoice) -> DbResult<Invoice>;
    fn invoice(&self, tenant: &TenantId, id: i64) -> DbResult<Invoice>;
    fn invoices(&self, tenant: &TenantId, filter: &InvoiceFilter) -> DbResult<Vec<Invoice>>;
}

/// How much of its invoice a new payment record may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Exactly the amount due: an attempt for all of it.
    Whole,
    /// More than zero and at most the amount due, which must still be `amount_due` (what the payer
    /// was shown): a part payment (or a whole one priced at that amount due).
    Part { amount_due: i64 },
}

/// Payment records and their effect on the invoice (`db/payments.rs`).
pub trait PaymentStore {
    /// The records of an attempt, each for all its invoice's amount due (`Claim::Whole`).
    fn create_payments(
        &self,
        tenant: &TenantId,
        new: &[NewPayment],
    ) -> DbResult<Vec<InvoicePayment>> {
        self.claim_payments(tenant, new, Claim::Whole)
    }
    /// The record of a payment of part (or all) of one invoice, while its amount due is still
    /// `amount_due`.
    fn create_part_payment(
        &self,
        tenant: &TenantId,
        new: &NewPayment,
        amount_due: i64,
    ) -> DbResult<InvoicePayment> {
        self.claim_payments(
            tenant,
            std::slice::from_ref(new),
            Claim::Part { amount_due },
        )?
        .pop()
        .ok_or_else(|| DbError::NotFound("payment".into()))
    }
    /// Write an attempt's records — the claim of their invoices — all or none, each only while
    /// its invoice is payable for the record's amount as `claim` says, in one transaction with the
    /// unique index on open records.
    fn claim_payments(
        &self,
        tenant: &TenantId,
        new: &[NewPayment],
        claim: Claim,
    ) -> DbResult<Vec<InvoicePayment>>;
    fn update_payment(
        &self,
        tenant: &TenantId,
        id: i64,
        expected_version: u64,
        update: &PaymentUpdate,
    ) -> DbResult<InvoicePayment>;
    fn payments(&self, tenant: &TenantId, filter: &PaymentFilter) -> DbResult<Vec<InvoicePayment>>;
}

/// Disputes of payment records and their effect on the invoice (`db/disputes.rs`).
pub trait DisputeStore {
    /// Record what Stripe says of a dispute of a payment record (the contract's
    /// `helpdesk.record-dispute`): applied by `payment_state::dispute_should_apply`, inside the
    /// transaction that writes it and, for a dispute it makes lost, puts a paid invoice back to
    /// awaiting payment (its amount due adds lost disputes). Whether it was applied, and the
    /// dispute as held after. `NotFound` for a payment not the tenant's; `Invalid` for an amount
    /// in another currency or above what the payment paid (amount plus fee).
    fn record_dispute(
        &self,
        tenant: &TenantId,
        observation: &DisputeObservation,
    ) -> DbResult<(bool, Dispute)>;
    /// The disputes of an invoice's payments, oldest first (at most 1000).
    fn disputes(&self, tenant: &TenantId, invoice_id: i64) -> DbResult<Vec<Dispute>>;
}

/// Refunds of payment records and their effect on the invoice (`db/refunds.rs`).
pub trait RefundStore {
    /// Claim a refund (the contract's `helpdesk.claim-refund`): written `pending` only if the
    /// payment record is the tenant's and succeeded, the amount is in its currency and more than
    /// zero, the fee part at most the amount and at most the record's fee, and the record's refunds
    /// that did not fail or get canceled, with this one, stay within what it paid (amount plus
    /// fee); the check and the write are one transaction (on PostgreSQL the payment row is locked
    /// first), so two hosts refunding one payment at once never give back more than it paid.
    /// `Conflict` when it would exceed what is refundable (saying how much is), `Invalid` for a
    /// malformed amount, `NotFound` for a payment not the tenant's.
    fn claim_refund(&self, tenant: &TenantId, new: &NewRefund) -> DbResult<Refund>;
    /// Record what Stripe says of a refund (`helpdesk.record-refund`), found by `record_id` when
    /// given (it must be of `payment_id`), else by Stripe's id and payment record, else made anew
    /// (a refund from Stripe's dashboard: written only within what the record paid, its fee part
    /// what exceeds the record's amount not yet refunded). Applied by
    /// `payment_state::refund_should_apply` (Stripe's clock), in the transaction that writes it;
    /// a refund it makes succeeded puts a paid invoice with something due back to awaiting payment
    /// (the amount due adds succeeded refunds less their fee parts), and a succeeded one it makes
    /// failed or canceled makes an awaiting invoice with nothing due paid again. Whether it was
    /// applied, and the refund as held after.
    fn record_refund(
        &self,
        tenant: &TenantId,
        observation: &RefundObservation,
    ) -> DbResult<(bool, Refund)>;
    /// One refund record of the tenant.
    fn refund(&self, tenant: &TenantId, id: i64) -> DbResult<Refund>;
    /// The refunds of an invoice's payments, oldest first (at most 1000).
    fn refunds(&self, tenant: &TenantId, invoice_id: i64) -> DbResult<Vec<Refund>>;
    /// Whether the agent has "Can Refund Stripe Payments" (`NotFound`: not the tenant's agent).
    fn can_refund(&self, tenant: &TenantId, agent_id: i64) -> DbResult<bool>;
    /// Give or take "Can Refund Stripe Payments".
    fn set_can_refund(&self, tenant: &TenantId, agent_id: i64, can: bool) -> DbResult<()>;
}

/// The tenant's email templates (`db/templates.rs`).
pub trait TemplateStore {
    fn email_template(&self, tenant: &TenantId, id: u32) -> DbResult<EmailTemplate>;
    fn save_email_template(&self, tenant: &TenantId, template: &EmailTemplate) -> DbResult<()>;
}

/// The audit trail and the anomalies kept in it (`db/audit.rs`).
pub trait AuditStore {
    /// Append to the audit trail; an `anomaly` already kept for the invoice is not kept again.
    fn audit(&self, tenant: &TenantId, entries: &[AuditEntry]) -> DbResult<()>;
    /// The payment anomalies kept for an invoice, oldest first.
    fn anomalies(&self, tenant: &TenantId, invoice_id: i64) -> DbResult<Vec<Anomaly>>;
}

/// The helpdesk records, every kind: what the `helpdesk` capability reads and writes.
pub trait HelpdeskStore:
    CustomerStore
    + UserStore
    + InvoiceStore
    + PaymentStore
    + DisputeStore
    + RefundStore
    + TemplateStore
    + AuditStore
{
}

impl<T> HelpdeskStore for T where
    T: CustomerStore
        + UserStore
        + InvoiceStore
        + PaymentStore
        + DisputeStore
        + RefundStore
        + TemplateStore
        + AuditStore
{
}

/// Every store trait, for code that calls the database on a concrete type (`use db::stores::*`).
pub mod stores {
    pub use super::{
        AuditStore, AuthStore, CustomerStore, Database, DisputeStore, HelpdeskStore, HostsStore,
        InvoiceStore, KvStore, LimitsStore, OutboxStore, PaymentStore, PeopleStore, RecurringStore,
        RefundStore, SignInStore, TemplateStore, TenantStore, UserStore,
    };
}

/// The email outbox.
pub trait OutboxStore {
    /// Queue a message; `false` when its dedup key was used before (nothing queued).
    fn enqueue_email(&self, tenant: &TenantId, from: &str, email: &NewEmail) -> DbResult<bool>;
    /// Queued messages of every tenant, oldest first.
    fn queued_emails(&self, limit: u32) -> DbResult<Vec<OutboxMessage>>;
    fn mark_email(&self, id: i64, sent: bool, error: Option<&str>) -> DbResult<()>;
    /// A tenant's messages, newest first.
    fn emails(&self, tenant: &TenantId, limit: u32) -> DbResult<Vec<OutboxMessage>>;
    /// A tenant's messages whose dedup key starts with `prefix`, oldest first (at most 100).
    fn emails_with_key_prefix(
        &self,
        tenant: &TenantId,
        prefix: &str,
    ) -> DbResult<Vec<OutboxMessage>>;
}

/// Recurring invoices and the audit trail.
pub trait RecurringStore {
    fn create_recurring(&self, tenant: &TenantId, new: &NewRecurring) -> DbResult<Recurring>;
    fn recurring(&self, tenant: &TenantId) -> DbResult<Vec<Recurring>>;
    /// Generate every invoice due by `today` (each once, however many runs), advancing the
    /// schedules; the new invoices' ids.
    fn generate_due(&self, tenant: &TenantId, today: &str) -> DbResult<Vec<i64>>;
    /// The audit trail, newest first.
    fn audit_entries(&self, tenant: &TenantId, limit: u32) -> DbResult<Vec<AuditRecord>>;
}

/// Who is calling: an agent of the tenant or a portal user of one of its customers.
#[derive(Debug, Clone, PartialEq)]
pub enum Principal {
    Agent(Agent),
    User(User),
}

/// How long a new API token lasts unless its maker says otherwise.
pub const DEFAULT_TOKEN_DAYS: i64 = 90;

/// API credentials.
pub trait AuthStore {
    /// A new bearer token for `principal` that expires at `expires_at` (Unix seconds; `None`:
    /// never); the only time its value is seen.
    fn create_token_until(
        &self,
        tenant: &TenantId,
        principal: &Principal,
        label: &str,
        expires_at: Option<i64>,
    ) -> DbResult<Secret>;
    /// A new bearer token for `principal`, valid for [`DEFAULT_TOKEN_DAYS`].
    fn create_token(
        &self,
        tenant: &TenantId,
        principal: &Principal,
        label: &str,
    ) -> DbResult<Secret> {
        self.create_token_until(
            tenant,
            principal,
            label,
            Some(now() + DEFAULT_TOKEN_DAYS * 86_400),
        )
    }
    /// The tenant and principal a token belongs to, if it is valid: not revoked, not expired, and
    /// its owner neither disabled nor removed.
    fn authenticate(&self, token: &str) -> DbResult<Option<(TenantId, Principal)>>;
    /// Set an agent's or portal user's password (at least 10 characters; stored as argon2id).
    fn set_password(
        &self,
        tenant: &TenantId,
        principal: &Principal,
        password: &str,
    ) -> DbResult<()>;
    /// A new web session: its token (for the cookie, shown once) and its CSRF token.
    fn create_session(
        &self,
        tenant: &TenantId,
        principal: &Principal,
        ttl_seconds: i64,
    ) -> DbResult<(Secret, String)>;
    /// The tenant, principal and CSRF token of a live session (none once its owner is disabled or
    /// removed).
    fn session(&self, token: &str) -> DbResult<Option<(TenantId, Principal, String)>>;
    /// Sign out.
    fn end_session(&self, token: &str) -> DbResult<()>;
}

/// An account as sign-in sees it (enabled agents and portal users only).
#[derive(Debug, Clone)]
pub struct SignInAccount {
    pub id: i64,
    pub password_hash: Option<String>,
    pub email: String,
    pub name: String,
}

/// What a purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub sessions: usize,
    pub devices: usize,
    pub counters: usize,
    pub flashes: usize,
}

/// Sign-in throttling, remembered browsers, page messages and purging what expired.
pub trait SignInStore {
    /// The enabled agent (`agent`) or portal user with this email.
    fn sign_in_account(
        &self,
        tenant: &TenantId,
        agent: bool,
        email: &str,
    ) -> DbResult<Option<SignInAccount>>;
    /// Let one attempt through every key's rule at `at`, counting it as a failure of each (all
    /// or none): the counters after it, or the seconds to wait when a key must wait.
    fn admit_sign_in(
        &self,
        keys: &[(String, crate::throttle::Rule)],
        at: i64,
    ) -> DbResult<Result<Vec<crate::throttle::Counter>, i64>>;
    /// Forget a key's failures (a correct sign-in).
    fn clear_sign_in_counter(&self, key: &str) -> DbResult<()>;
    /// Remember a browser that signed in to `account`: its token (for a cookie, shown once).
    fn remember_device(
        &self,
        tenant: &TenantId,
        account: &str,
        ttl_seconds: i64,
    ) -> DbResult<Secret>;
    /// The account a remembered browser signed in to, if its token is live.
    fn remembered_account(&self, token: &str) -> DbResult<Option<String>>;
    /// Keep a message for the session's next page: its id, for the URL.
    fn save_flash(&self, session_token: &str, text: &str) -> DbResult<String>;
    /// A message kept for this session.
    fn flash(&self, session_token: &str, id: &str) -> DbResult<Option<String>>;
    /// Delete expired sessions and browser tokens, and counters and messages older than
    /// `keep_seconds`.
    fn purge_expired(&self, at: i64, keep_seconds: i64) -> DbResult<Purged>;
}

/// An agent or a portal user, by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Person {
    Agent(i64),
    User(i64),
}

impl Person {
    pub fn kind(self) -> &'static str {
        match self {
            Person::Agent(_) => "agent",
            Person::User(_) => "user",
        }
    }
}

/// An API token as its tenant's administrators see it (never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: i64,
    pub label: String,
    pub owner: Person,
    pub owner_email: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

/// Disabling and removing people; listing and revoking tokens.
pub trait PeopleStore {
    /// Disable a person (their sessions end and tokens are revoked at once) or enable them again.
    fn set_disabled(&self, tenant: &TenantId, person: Person, disabled: bool) -> DbResult<()>;
    /// Remove a person with their sessions and tokens; a user's invoices stay.
    fn remove_person(&self, tenant: &TenantId, person: Person) -> DbResult<()>;
    /// Who is disabled.
    fn disabled_people(&self, tenant: &TenantId) -> DbResult<Vec<Person>>;
    /// Every token of the tenant, by id.
    fn tokens(&self, tenant: &TenantId) -> DbResult<Vec<TokenInfo>>;
    /// Revoke a token (at once; revoking twice changes nothing).
    fn revoke_token(&self, tenant: &TenantId, id: i64) -> DbResult<()>;
}

/// How several hosts (or processes) on one database share the work: leases on a tenant's pieces of
/// work (its daily run for a day), the outbox's messages taken for sending, and the spacing of
/// Stripe requests per account. Times of leases and pacing are the database's clock on
/// PostgreSQL, so hosts' clocks needn't agree.
pub trait HostsStore {
    /// Take `work` of `tenant` for `holder` for `seconds`: `true` when taken (it was free, its
    /// lease had run out, or `holder` holds it already). A finished piece is taken again only
    /// `even_if_finished` (a run started by hand).
    fn take_lease(
        &self,
        tenant: &TenantId,
        work: &str,
        holder: &str,
        seconds: i64,
        even_if_finished: bool,
    ) -> DbResult<bool>;
    /// Extend a lease `holder` holds: `false` when it is no longer theirs.
    fn renew_lease(
        &self,
        tenant: &TenantId,
        work: &str,
        holder: &str,
        seconds: i64,
    ) -> DbResult<bool>;
    /// Mark the work done and let the lease go.
    fn finish_lease(&self, tenant: &TenantId, work: &str, holder: &str) -> DbResult<()>;
    /// Take up to `limit` queued messages of every tenant (oldest first) that no other holder has
    /// taken in the last `seconds`, for `holder` to send; [`OutboxStore::mark_email`] lets each go.
    fn take_emails(&self, holder: &str, limit: u32, seconds: i64) -> DbResult<Vec<OutboxMessage>>;
    /// Reserve the next moment `account` may send a request, each `interval_micros` after the one
    /// before: how many microseconds from now that moment is (0: at once).
    fn take_request_turn(&self, account: &str, interval_micros: i64) -> DbResult<i64>;
    /// What waits, all tenants together, for the metrics: queued emails and open payment claims.
    fn backlog(&self) -> DbResult<Backlog>;
}

/// Everything the host stores.
pub trait Database:
    TenantStore
    + LimitsStore
    + PluginStore
    + KvStore
    + HelpdeskStore
    + OutboxStore
    + AuthStore
    + SignInStore
    + PeopleStore
    + RecurringStore
    + HostsStore
    + Send
    + Sync
{
}

impl<T> Database for T where
    T: TenantStore
        + LimitsStore
        + PluginStore
        + KvStore
        + HelpdeskStore
        + OutboxStore
        + AuthStore
        + SignInStore
        + PeopleStore
        + RecurringStore
        + HostsStore
        + Send
        + Sync
{
}

/// Now, as Unix seconds.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
