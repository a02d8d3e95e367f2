//! `/autopay`: run the daily integrator now (or plan it: dry run), its last run and last error, and
//! the audit trail of its decisions. For administrators.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::caller::Caller;
use super::checks::in_range;
use super::extract::{JsonBody, Query};
use crate::web::error::{ApiError, ErrorBody, FieldProblem};
use crate::web::state::{AppState, blocking};

/// Run the daily integrator now; the body is required (`{}` runs it for today and charges).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunInput {
    /// The tenant-local date to run for, `YYYY-MM-DD` in 2000–2099; default today.
    #[serde(default)]
    #[schema(format = Date, pattern = r"^20[0-9]{2}-")]
    pub date: Option<String>,
    /// Only plan: change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Run (or, dry, plan) the daily integrator for this tenant now; the plan, results and errors.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/autopay/run", tag = "autopay",
    params(("tenant" = String, Path)), request_body = RunInput,
    responses((status = 200, description = "the run's report: date, generated_invoices, plan, results, card_reminders (customers emailed about their automatic card expiring this month or next; `queued` false: told before this month), errors"), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn run(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(input): JsonBody<RunInput>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.admin()?;
    if let Some(d) = &input.date
        && !super::checks::date(d).is_some_and(in_range)
    {
        return Err(ApiError::invalid(
            "not a date",
            vec![FieldProblem {
                field: "date".into(),
                message: "a date in 2000–2099, YYYY-MM-DD".into(),
            }],
        ));
    }
    let tenant = caller.tenant.clone();
    blocking(&state, move |app| {
        let report = app.run_autopay(
            &tenant,
            input.date.as_deref(),
            input.dry_run,
            &mut |_, _| {},
        )?;
        Ok(crate::autopay_cli::report_json(&report))
    })
    .await
    .map(Json)
}

/// The daily run's status.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatusView {
    pub halointegrator_stripe: bool,
    /// Unix seconds.
    pub last_run: Option<i64>,
    pub last_error: Option<String>,
}

/// Last run time and last error of the daily integrator.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/autopay/status", tag = "autopay",
    params(("tenant" = String, Path)), responses((status = 200, body = StatusView)), security(("bearer" = [])))]
pub async fn status(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<StatusView>, ApiError> {
    caller.admin()?;
    let tenant = caller.tenant.clone();
    blocking(&state, move |app| {
        let t = app.db().tenant(&tenant)?;
        Ok(StatusView {
            halointegrator_stripe: t.settings.halointegrator_stripe,
            last_run: t.autopay_last_run,
            last_error: t.autopay_last_error,
        })
    })
    .await
    .map(Json)
}

/// One decision of the audit trail.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditView {
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    pub invoice_id: Option<i64>,
    /// `charge`, `skip`, `succeeded`, `failed`, `requires_action`, `resolved`, `resume`, `unknown`,
    /// `email-not-sent` (a payment's email could not be sent; the payment stands), …
    pub action: String,
    pub reason: String,
    pub amount: Option<i64>,
    pub currency: Option<String>,
}

/// How much of the trail.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// How many entries, 1–10000 (default 500).
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<u32>,
}

/// The audit trail of automatic-payment decisions, newest first.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/autopay/audit", tag = "autopay",
    params(("tenant" = String, Path), AuditQuery), responses((status = 200, body = [AuditView])), security(("bearer" = [])))]
pub async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<AuditView>>, ApiError> {
    caller.admin()?;
    let limit = super::checks::limit(q.limit, 500, 10_000)?;
    let tenant = caller.tenant.clone();
    blocking(&state, move |app| {
        Ok(app
            .db()
            .audit_entries(&tenant, limit)?
            .into_iter()
            .map(|r| AuditView {
                id: r.id,
                at: r.at,
                invoice_id: r.entry.invoice_id,
                action: r.entry.action,
                reason: r.entry.reason,
                amount: r.entry.amount.as_ref().map(|m| m.amount),
                currency: r.entry.amount.map(|m| m.currency),
            })
            .collect())
    })
    .await
    .map(Json)
}
