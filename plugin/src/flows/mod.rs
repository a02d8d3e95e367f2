//! Flows: the plugin's work that needs the host — read records and settings through `helpdesk`,
//! call Stripe through `http`, hand the data to `domain`, write results back. This file is the
//! folder's ground floor, importing none of the flows: the mapping of host and Stripe failures to
//! `plugin-error` values, the clocks, and the one function that sends to Stripe.

pub mod admin;
pub mod autopay;
pub mod charges;
pub mod confirm;
pub mod customers;
pub mod debits;
pub mod disputes;
pub mod emails;
pub mod intents;
pub mod outcomes;
pub mod payable;
pub mod payment_methods;
pub mod payments;
pub mod quote;
pub mod reconcile;
pub mod records;
pub mod refunds;
pub mod reminders;
pub mod setup;
pub mod stripe_side;
pub mod templates;
pub mod webhooks;

use crate::bindings::paydesk::stripe::http;
use crate::bindings::paydesk::stripe::log;
use crate::bindings::paydesk::stripe::types::{ErrorKind, HostError, PluginError, StripeError};
use crate::stripe::{self, StripeFailure};

pub type Result<T> = std::result::Result<T, PluginError>;

/// A plugin error without Stripe details.
pub fn error(kind: ErrorKind, message: impl Into<String>) -> PluginError {
    PluginError {
        kind,
        message: message.into(),
        field_errors: Vec::new(),
        stripe: None,
    }
}

/// A host capability's failure, as a plugin error.
pub fn host_error(context: &str, e: HostError) -> PluginError {
    let (kind, detail) = match e {
        HostError::NotFound(d) => (ErrorKind::NotFound, d),
        HostError::Denied(d) => (ErrorKind::PermissionDenied, d),
        HostError::Conflict(d) => (ErrorKind::Conflict, d),
        HostError::Invalid(d) => (ErrorKind::InvalidInput, d),
        HostError::Unavailable(d) => (ErrorKind::Internal, d),
    };
    error(kind, format!("{context}: {detail}"))
}

/// The host refused to write an attempt's payment records (the claim): another attempt holds one
/// of the invoices, or an invoice stopped being payable for the amount priced. The host's words are
/// the payer's answer (409), with nothing in front.
pub fn claim_refused(e: HostError) -> PluginError {
    match e {
        HostError::Conflict(detail) => error(ErrorKind::Conflict, detail),
        other => host_error("payment records", other),
    }
}

/// Write a log line through the host.
pub fn log(level: log::Level, message: &str) {
    log::write(level, message);
}

/// Unix seconds now (WASI clock).
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

std::thread_local! {
    /// The `Date` of Stripe's latest answer in this call (each call has a fresh instance).
    static STRIPE_DATE: std::cell::Cell<Option<i64>> = const { std::cell::Cell::new(None) };
}

/// Stripe's clock: the `Date` of its latest answer in this call, in Unix seconds. What an API read
/// saw is recorded at this instant, so records are ordered against events' `created` on Stripe's
/// clock alone; a host whose clock is off never makes a real event look stale. Before any answer
/// (or from a host that gives no `Date`) it falls back to the WASI clock.
pub fn stripe_now() -> i64 {
    STRIPE_DATE.with(|d| d.get()).unwrap_or_else(now)
}

/// Send one request to Stripe. The only call of the `http` import in the plugin.
pub fn stripe_send(req: &stripe::Request) -> Result<stripe::Response> {
    let request = http::Request {
        method: match req.method {
            stripe::Method::Get => http::Method::Get,
            stripe::Method::Post => http::Method::Post,
            stripe::Method::Delete => http::Method::Delete,
        },
        path: req.path.clone(),
        query: req.query.clone(),
        form: req.form.clone(),
        idempotency_key: req.idempotency_key.clone(),
    };
    match http::send_dated(&request) {
        Ok(http::DatedResponse { response: r, date }) => {
            if date.is_some() {
                STRIPE_DATE.with(|d| d.set(date));
            }
            Ok(stripe::Response {
                status: r.status,
                request_id: r.request_id,
                retry_after: r.retry_after,
                body: r.body,
            })
        }
        Err(http::SendError::Denied(d)) => Err(error(ErrorKind::NotConfigured, d)),
        Err(http::SendError::NotSent(d)) => Err(error(
            ErrorKind::StripeUnavailable,
            format!("Stripe could not be reached: {d}"),
        )),
        Err(http::SendError::OutcomeUnknown(d)) => Err(error(
            ErrorKind::OutcomeUnknown,
            format!("no answer from Stripe; the request may have been processed: {d}"),
        )),
    }
}

/// Send a request and read the answer as `T`.
pub fn stripe_call<T: crate::json::FromJson>(req: &stripe::Request) -> Result<T> {
    let response = stripe_send(req)?;
    stripe::parse(&response).map_err(stripe_failure)
}

/// Stripe's refusal, as a plugin error with Stripe's codes.
pub fn stripe_failure(failure: StripeFailure) -> PluginError {
    let message = failure.message();
    let lacks_permission = failure.missing_permission().is_some();
    match failure {
        StripeFailure::Api {
            status,
            error: body,
            request_id,
        } => {
            let kind = match (status, body.error_type.as_deref(), body.code.as_deref()) {
                (429, ..) | (500..=599, ..) => ErrorKind::StripeUnavailable,
                (_, Some("card_error"), _) => ErrorKind::PaymentDeclined,
                (_, _, Some("authentication_required")) => ErrorKind::AuthenticationRequired,
                (404, ..) | (_, _, Some("resource_missing")) => ErrorKind::NotFound,
                (401, ..) => ErrorKind::NotConfigured,
                // A restricted key without the permission: the key is set up wrong; nothing was done.
                (403, ..) if lacks_permission => ErrorKind::NotConfigured,
                _ => ErrorKind::StripeRejected,
            };
            PluginError {
                kind,
                message,
                field_errors: Vec::new(),
                stripe: Some(StripeError {
                    http_status: status,
                    error_type: body.error_type,
                    code: body.code,
                    decline_code: body.decline_code,
                    param: body.param,
                    request_id,
                }),
            }
        }
        StripeFailure::Malformed { request_id, .. } => PluginError {
            kind: ErrorKind::Internal,
            message,
            field_errors: Vec::new(),
            stripe: Some(StripeError {
                http_status: 200,
                error_type: None,
                code: None,
                decline_code: None,
                param: None,
                request_id,
            }),
        },
    }
}
