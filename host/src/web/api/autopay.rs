//! Automatic payments over the API: recurring invoices, running the daily integrator now (or
//! planning it: dry run), its last run and last error, and the audit trail of its decisions.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::blocking;
use crate::db::NewRecurring;
use crate::web::AppState;
use crate::web::auth::Caller;
use crate::web::error::{ApiError, ErrorBody, FieldProblem};

/// A recurring invoice: generates an invoice every `interval_months` from `next_date`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecurringView {
    #[serde(default)]
    pub id: i64,
    pub customer_id: i64,
    #[serde(default)]
    pub user_id: Option<i64>,
    pub currency: String,
    pub description: String,
    /// Minor units.
    pub amount: i64,
    #[serde(default = "one")]
    pub interval_months: u32,
    /// Next issue date, `YYYY-MM-DD` (tenant's time zone).
    pub next_date: String,
    /// Days from issue to due date.
    #[serde(default)]
    pub due_days: u32,
    #[serde(default = "yes")]
    pub active: bool,
}

fn one() -> u32 {
    1
}

fn yes() -> bool {
    true
}

/// Create a recurring invoice (agents).
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/recurring-invoices", tag = "autopay",
    params(("tenant" = String, Path)), request_body = RecurringView,
    responses((status = 201, body = RecurringView), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_recurring(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<RecurringView>,
) -> Result<(StatusCode, Json<RecurringView>), ApiError> {
    caller.agent()?;
    let mut problems = Vec::new();
    if chrono::NaiveDate::parse_from_str(&input.next_date, "%Y-%m-%d").is_err() {
        problems.push(FieldProblem {
            field: "next_date".into(),
            message: "a date, YYYY-MM-DD".into(),
        });
    }
    if input.amount <= 0 {
        problems.push(FieldProblem {
            field: "amount".into(),
            message: "a positive amount in minor units".into(),
        });
    }
    if paydesk_plugin::domain::money::Currency::parse(&input.currency).is_err() {
        problems.push(FieldProblem {
            field: "currency".into(),
            message: format!("`{}` is not a currency Stripe accepts", input.currency),
        });
    }
    if !problems.is_empty() {
        return Err(ApiError::invalid(
            "the recurring invoice was not created",
            problems,
        ));
    }
    let tenant = caller.tenant.clone();
    blocking(&state, move |app| {
        let r = app.db().create_recurring(
            &tenant,
            &NewRecurring {
                customer_id: input.customer_id,
                user_id: input.user_id,
                currency: input.currency,
                description: input.description,
                amount: input.amount,
                interval_months: input.interval_months,
                next_date: input.next_date,
                due_days: input.due_days,
            },
        )?;
        Ok((StatusCode::CREATED, Json(view(r))))
    })
    .await
}

fn view(r: crate::db::Recurring) -> RecurringView {
    RecurringView {
        id: r.id,
        customer_id: r.customer_id,
        user_id: r.user_id,
        currency: r.currency,
        description: r.description,
        amount: r.amount,
        interval_months: r.interval_months,
        next_date: r.next_date,
        due_days: r.due_days,
        active: r.active,
    }
}

/// The tenant's recurring invoices.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/recurring-invoices", tag = "autopay",
    params(("tenant" = String, Path)), responses((status = 200, body = [RecurringView])), security(("bearer" = [])))]
pub async fn list_recurring(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<RecurringView>>, ApiError> {
    caller.agent()?;
    let tenant = caller.tenant.clone();
    blocking(&state, move |app| {
        Ok(app.db().recurring(&tenant)?.into_iter().map(view).collect())
    })
    .await
    .map(Json)
}

/// Run the daily integrator now.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunInput {
    /// The tenant-local date to run for; default today.
    #[serde(default)]
    pub date: Option<String>,
    /// Only plan: change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Run (or, dry, plan) the daily integrator for this tenant now; the plan, results and errors.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/autopay/run", tag = "autopay",
    params(("tenant" = String, Path)), request_body = RunInput,
    responses((status = 200, description = "the run's report: date, generated_invoices, plan, results, errors"), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn run(
    State(state): State<AppState>,
    caller: Caller,
    body: Option<Json<RunInput>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.admin()?;
    let input = body.map(|Json(b)| b).unwrap_or_default();
    if let Some(d) = &input.date
        && chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err()
    {
        return Err(ApiError::invalid(
            "not a date",
            vec![FieldProblem {
                field: "date".into(),
                message: "YYYY-MM-DD".into(),
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
    /// `charge`, `skip`, `succeeded`, `failed`, `requires_action`, `resolved`, `resume`, `unknown`, …
    pub action: String,
    pub reason: String,
    pub amount: Option<i64>,
    pub currency: Option<String>,
}

/// How much of the trail.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
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
    let tenant = caller.tenant.clone();
    blocking(&state, move |app| {
        Ok(app
            .db()
            .audit_entries(&tenant, q.limit.unwrap_or(500))?
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
