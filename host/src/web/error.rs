//! Errors of the JSON API: one JSON shape (`{"error": {"kind", "message", "fields", "stripe_request_id"}}`)
//! and the HTTP status for each kind. Messages are for humans and never carry a secret; sandbox and
//! database details stay in the log.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::app::{CallError, SaveError};
use crate::contract::ErrorKind;
use crate::db::DbError;
use crate::web::roles::Refused;
use crate::web::state::WorkerLost;

/// The text of [`ApiError::nothing_of_yours`].
pub const NOTHING_OF_YOURS: &str = "not found: there is no such record for you";

/// One bad field.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

/// The body of every error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// `invalid_input` (422), `bad_request` (400: a body that is not JSON, a parameter that does
    /// not parse), `unsupported_media_type` (415), `payload_too_large` (413), `not_found` (404),
    /// `method_not_allowed` (405), `forbidden`, `unauthorized`, `conflict`, `not_configured`,
    /// `stripe_rejected`, `payment_declined`, `authentication_required`, `stripe_unavailable`,
    /// `outcome_unknown`, `busy` (429: the tenant's limit of plugin calls at once), `unsupported`,
    /// `internal`.
    pub kind: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldProblem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stripe_request_id: Option<String>,
}

/// An API error: a status and its body.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: ErrorBody {
                error: ErrorDetail {
                    kind,
                    message: message.into(),
                    fields: Vec::new(),
                    stripe_request_id: None,
                },
            },
        }
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send a valid API token as `Authorization: Bearer pdk_…`",
        )
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// A record the caller named that does not exist or is not theirs: one answer for both, so
    /// a caller cannot tell another customer's records from missing ones.
    pub fn nothing_of_yours() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", NOTHING_OF_YOURS)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn invalid(message: impl Into<String>, fields: Vec<FieldProblem>) -> ApiError {
        let mut e = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", message);
        e.body.error.fields = fields;
        e
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

fn kind(k: ErrorKind) -> (StatusCode, &'static str) {
    match k {
        ErrorKind::InvalidInput => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
        ErrorKind::NotFound => (StatusCode::NOT_FOUND, "not_found"),
        ErrorKind::PermissionDenied => (StatusCode::FORBIDDEN, "forbidden"),
        ErrorKind::Conflict => (StatusCode::CONFLICT, "conflict"),
        ErrorKind::NotConfigured => (StatusCode::CONFLICT, "not_configured"),
        ErrorKind::StripeRejected => (StatusCode::BAD_GATEWAY, "stripe_rejected"),
        ErrorKind::PaymentDeclined => (StatusCode::PAYMENT_REQUIRED, "payment_declined"),
        ErrorKind::AuthenticationRequired => {
            (StatusCode::PAYMENT_REQUIRED, "authentication_required")
        }
        ErrorKind::StripeUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "stripe_unavailable"),
        ErrorKind::OutcomeUnknown => (StatusCode::GATEWAY_TIMEOUT, "outcome_unknown"),
        ErrorKind::Unsupported => (StatusCode::NOT_IMPLEMENTED, "unsupported"),
        ErrorKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound(what) => ApiError::not_found(&what),
            DbError::Conflict(what) => ApiError::new(StatusCode::CONFLICT, "conflict", what),
            DbError::Invalid(what) => ApiError::invalid(what, Vec::new()),
            DbError::Backend(e) => {
                tracing::error!(error = %e, "database error");
                ApiError::internal("the database failed; try again")
            }
        }
    }
}

impl From<CallError> for ApiError {
    fn from(e: CallError) -> Self {
        match e {
            // The plugin's "not found" about the helpdesk's records (not Stripe's) says which
            // record and why; told apart, "not yours" and "not there" would reveal other
            // customers' records.
            CallError::Plugin(p) if p.kind == ErrorKind::NotFound && p.stripe.is_none() => {
                tracing::debug!(message = %p.message, "not found");
                ApiError::nothing_of_yours()
            }
            CallError::Plugin(p) => {
                let (status, kind) = kind(p.kind);
                let mut api = ApiError::new(status, kind, p.message);
                api.body.error.fields = p
                    .field_errors
                    .into_iter()
                    .map(|f| FieldProblem {
                        field: f.field,
                        message: f.message,
                    })
                    .collect();
                api.body.error.stripe_request_id = p.stripe.and_then(|s| s.request_id);
                api
            }
            // The tenant's own limit of calls at once on this host: its next try may well pass.
            CallError::Sandbox(s @ crate::runtime::SandboxError::Instances { .. }) => {
                tracing::warn!(error = %s, "plugin call refused");
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "busy", s.to_string())
            }
            CallError::Sandbox(s) => {
                tracing::error!(error = %s, "plugin call failed");
                ApiError::internal("the payment plugin failed; the error is in the server log")
            }
            CallError::Db(d) => d.into(),
        }
    }
}

impl From<SaveError> for ApiError {
    fn from(e: SaveError) -> Self {
        match e {
            SaveError::Invalid(fields) => ApiError::invalid(
                "the settings were not saved; see the fields",
                fields
                    .into_iter()
                    .map(|f| FieldProblem {
                        field: f.field,
                        message: f.message,
                    })
                    .collect(),
            ),
            SaveError::Call(c) => c.into(),
        }
    }
}

impl From<Refused> for ApiError {
    fn from(r: Refused) -> Self {
        ApiError::forbidden(match r {
            Refused::NotAnAgent => "only the tenant's agents may do this",
            Refused::NotAnAdmin => {
                "only the tenant's administrators may change the Stripe integration"
            }
            Refused::NotAPortalUser => "only the tenant's portal users may do this",
            Refused::NoInvoiceAccess => "this account has no access to invoices",
        })
    }
}

impl From<WorkerLost> for ApiError {
    fn from(_: WorkerLost) -> Self {
        ApiError::internal("the request's worker failed")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_at_its_instance_limit_is_told_429_busy_with_the_limit() {
        let e = ApiError::from(CallError::Sandbox(
            crate::runtime::SandboxError::Instances {
                tenant: "acme".into(),
                running: 4,
                limit: 4,
            },
        ));
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(e.body.error.kind, "busy");
        assert!(
            e.body.error.message.contains("its limit of 4 instances"),
            "{}",
            e.body.error.message
        );
    }
}
