//! The conformance protocol's values (`conformance/PROTOCOL.md`) for the Rust host's types: WIT
//! records as JSON objects with snake_case fields, enum cases as WIT writes them, variant cases as
//! `"case"` or `{"case": payload}`, and every failure as `{kind, message, fields}`. Conversions
//! only; no I/O.

use paydesk_host::app::{CallError, SaveError};
use paydesk_host::contract::exports::paydesk::stripe::{admin, events, payments};
use paydesk_host::contract::{
    ErrorKind, Initiator, InvoicePayment, InvoiceStatus, Money, PaymentMethodType, PaymentStatus,
};
use paydesk_host::db::{DbError, method_type_name, payment_status_name};
use paydesk_host::runtime::SandboxError;
use serde_json::{Value, json};

/// A failure as the protocol answers it.
pub struct Failure {
    pub kind: String,
    pub message: String,
    pub fields: Value,
}

impl Failure {
    pub fn new(kind: &str, message: impl Into<String>) -> Failure {
        Failure {
            kind: kind.into(),
            message: message.into(),
            fields: json!([]),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({"kind": self.kind, "message": self.message, "fields": self.fields})
    }
}

impl From<CallError> for Failure {
    fn from(e: CallError) -> Failure {
        let message = e.to_string();
        match e {
            CallError::Plugin(p) => Failure {
                kind: error_kind(p.kind).into(),
                message,
                fields: p
                    .field_errors
                    .iter()
                    .map(|f| json!({"field": f.field, "message": f.message}))
                    .collect(),
            },
            CallError::Sandbox(s) => Failure::new(
                match s {
                    SandboxError::OutOfFuel { .. } => "out-of-fuel",
                    SandboxError::Deadline { .. } => "deadline",
                    SandboxError::Memory { .. } => "memory",
                    SandboxError::Trap { .. } => "trap",
                    SandboxError::Instantiate { .. } => "instantiate",
                    SandboxError::Instances { .. } => "instances",
                },
                message,
            ),
            CallError::Db(d) => d.into(),
        }
    }
}

impl From<DbError> for Failure {
    fn from(e: DbError) -> Failure {
        let kind = match &e {
            DbError::NotFound(_) => "not-found",
            DbError::Conflict(_) => "conflict",
            DbError::Invalid(_) => "invalid",
            DbError::Backend(_) => "unavailable",
        };
        Failure::new(kind, e.to_string())
    }
}

impl From<SaveError> for Failure {
    fn from(e: SaveError) -> Failure {
        match e {
            SaveError::Invalid(fields) => Failure {
                kind: "invalid-input".into(),
                message: "the settings were not saved".into(),
                fields: fields
                    .iter()
                    .map(|f| json!({"field": f.field, "message": f.message}))
                    .collect(),
            },
            SaveError::Call(c) => c.into(),
        }
    }
}

fn error_kind(k: ErrorKind) -> &'static str {
    match k {
        ErrorKind::InvalidInput => "invalid-input",
        ErrorKind::NotFound => "not-found",
        ErrorKind::PermissionDenied => "permission-denied",
        ErrorKind::Conflict => "conflict",
        ErrorKind::NotConfigured => "not-configured",
        ErrorKind::StripeRejected => "stripe-rejected",
        ErrorKind::PaymentDeclined => "payment-declined",
        ErrorKind::AuthenticationRequired => "authentication-required",
        ErrorKind::StripeUnavailable => "stripe-unavailable",
        ErrorKind::OutcomeUnknown => "outcome-unknown",
        ErrorKind::Unsupported => "unsupported",
        ErrorKind::Internal => "internal",
    }
}

/// A database's snake_case name as the contract's kebab-case case name.
fn kebab(name: &str) -> String {
    name.replace('_', "-")
}

pub fn status(s: PaymentStatus) -> String {
    kebab(payment_status_name(s))
}

pub fn invoice_status(s: InvoiceStatus) -> String {
    kebab(paydesk_host::db::invoice_status_name(s))
}

pub fn method(t: &PaymentMethodType) -> String {
    kebab(&method_type_name(t))
}

/// A method type from its case name (`sepa-debit`).
pub fn method_from(v: &Value) -> Result<PaymentMethodType, Failure> {
    v.as_str()
        .map(|s| paydesk_host::settings::method_type(&s.replace('-', "_")))
        .filter(|t| !matches!(t, PaymentMethodType::Other(_)))
        .ok_or_else(|| Failure::new("bad-request", format!("{v} is not a payment method type")))
}

pub fn money(m: &Money) -> Value {
    json!({"amount": m.amount, "currency": m.currency})
}

pub fn initiator(i: &Initiator) -> Value {
    match i {
        Initiator::Agent(id) => json!({"agent": id}),
        Initiator::PortalUser(id) => json!({"portal-user": id}),
        Initiator::Autopay => json!("autopay"),
    }
}

pub fn initiator_from(v: &Value) -> Result<Initiator, Failure> {
    let id = |case: &str| v.get(case).and_then(Value::as_i64);
    match (v.as_str(), id("agent"), id("portal-user")) {
        (Some("autopay"), _, _) => Ok(Initiator::Autopay),
        (_, Some(a), _) => Ok(Initiator::Agent(a)),
        (_, _, Some(u)) => Ok(Initiator::PortalUser(u)),
        _ => Err(Failure::new(
            "bad-request",
            format!("{v} is not an initiator"),
        )),
    }
}

pub fn pay_with_from(v: &Value) -> Result<payments::PayWith, Failure> {
    if v == "saved-method" {
        return Ok(payments::PayWith::SavedMethod);
    }
    let types = v
        .get("new-details")
        .and_then(Value::as_array)
        .ok_or_else(|| Failure::new("bad-request", format!("{v} is not a pay-with")))?;
    Ok(payments::PayWith::NewDetails(
        types.iter().map(method_from).collect::<Result<_, _>>()?,
    ))
}

pub fn payment(p: &InvoicePayment) -> Value {
    json!({
        "id": p.id, "invoice_id": p.invoice_id, "group_id": p.group_id, "intent_id": p.intent_id,
        "status": status(p.status), "method": p.method, "method_type": p.method_type.as_ref().map(method),
        "amount": money(&p.amount), "fee": money(&p.fee), "initiator": initiator(&p.initiator),
        "attempt": p.attempt, "failure_reason": p.failure_reason, "failure_code": p.failure_code,
        "last_event_id": p.last_event_id, "webhook_received_at": p.webhook_received_at,
        "observed_at": p.observed_at, "created_at": p.created_at, "updated_at": p.updated_at,
        "version": p.version,
    })
}

pub fn quotation(q: &payments::Quotation) -> Value {
    json!({
        "lines": q.lines.iter().map(|l| json!({
            "invoice_id": l.invoice_id, "invoice_number": l.invoice_number,
            "amount_due": money(&l.amount_due), "fee": money(&l.fee),
            "fee_description": l.fee_description, "total": money(&l.total),
        })).collect::<Vec<_>>(),
        "total": money(&q.total),
        "method_type": method(&q.method_type),
    })
}

pub fn payment_started(p: &payments::PaymentStarted) -> Value {
    json!({
        "group_id": p.group_id, "intent_id": p.intent_id, "status": status(p.status),
        "client_secret": p.client_secret, "amount": money(&p.amount),
        "payments": p.payments.iter().map(payment).collect::<Vec<_>>(),
        "failure_reason": p.failure_reason,
    })
}

pub fn mapping_report(r: &admin::MappingReport) -> Value {
    let reason = |s: admin::SkipReason| match s {
        admin::SkipReason::NoMatch => "no-match",
        admin::SkipReason::SeveralInStripe => "several-in-stripe",
        admin::SkipReason::SeveralInHelpdesk => "several-in-helpdesk",
        admin::SkipReason::StripeCustomerTaken => "stripe-customer-taken",
    };
    json!({
        "mapped": r.mapped.iter().map(|m| json!({
            "customer_id": m.customer_id, "customer_name": m.customer_name,
            "stripe_customer_id": m.stripe_customer_id,
        })).collect::<Vec<_>>(),
        "skipped": r.skipped.iter().map(|s| json!({
            "customer_id": s.customer_id, "customer_name": s.customer_name,
            "reason": reason(s.reason), "stripe_customer_ids": s.stripe_customer_ids,
        })).collect::<Vec<_>>(),
        "already_mapped": r.already_mapped,
        "stripe_customers_seen": r.stripe_customers_seen,
    })
}

pub fn payment_methods(methods: &[admin::PaymentMethodSummary]) -> Value {
    methods
        .iter()
        .map(|m| {
            json!({"id": m.id, "method_type": method(&m.method_type), "display_name": m.display_name,
                   "is_automatic": m.is_automatic})
        })
        .collect()
}

pub fn sync_outcome(o: &events::SyncOutcome) -> Value {
    match o {
        events::SyncOutcome::Disabled => json!("disabled"),
        events::SyncOutcome::Created(id) => json!({"created": id}),
        events::SyncOutcome::Updated(id) => json!({"updated": id}),
    }
}

pub fn event_outcome(o: &events::EventOutcome) -> Value {
    match o {
        events::EventOutcome::Applied(n) => json!({"outcome": "applied", "detail": n}),
        events::EventOutcome::Duplicate => json!({"outcome": "duplicate", "detail": null}),
        events::EventOutcome::Stale => json!({"outcome": "stale", "detail": null}),
        events::EventOutcome::Ignored(why) => json!({"outcome": "ignored", "detail": why}),
    }
}

pub fn plan(decisions: &[events::AutopayDecision]) -> Value {
    decisions
        .iter()
        .map(|d| {
            json!({"invoice_id": d.invoice_id, "invoice_number": d.invoice_number,
                   "customer_id": d.customer_id, "amount": d.amount.as_ref().map(money),
                   "charge": d.charge, "attempt": d.attempt, "reason": d.reason})
        })
        .collect()
}

pub fn autopay_result(r: &events::AutopayResult) -> Value {
    json!({"invoice_id": r.invoice_id, "status": r.status.map(status), "message": r.message})
}
