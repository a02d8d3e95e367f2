//! Automatic payments over the API: recurring invoices, running the daily integrator now (or
//! planning it: dry run), its last run and last error, and the audit trail of its decisions.

use axum::Json;
use axum::extract::State;

use super::extract::{JsonBody, Query};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::blocking;
use crate::db::NewRecurring;
use crate::web::AppState;
use crate::web::auth::Caller;
use crate::web::error::{ApiError, ErrorBody, FieldProblem};

/// A recurring invoice: generates an invoice every `interval_months` from `next_date`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecurringView {
    pub id: i64,
    pub customer_id: i64,
    pub user_id: Option<i64>,
    pub currency: String,
    pub description: String,
    /// Minor units.
    pub amount: i64,
    pub interval_months: u32,
    /// Next issue date, `YYYY-MM-DD` (tenant's time zone).
    pub next_date: String,
    /// Days from issue to due date.
    pub due_days: u32,
    pub active: bool,
}

/// A new recurring invoice.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecurringInput {
    pub customer_id: i64,
    /// The portal user its invoices are addressed to.
    #[serde(default)]
    pub user_id: Option<i64>,
    #[schema(schema_with = super::checks::currency_schema)]
    pub currency: String,
    /// The line of each invoice; not only white space.
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"[^\s\u001c-\u001f\u0085\ufeff]"
    )]
    pub description: String,
    /// Minor units, positive.
    #[schema(minimum = 1, maximum = 1_000_000_000_000i64)]
    pub amount: i64,
    /// Months between invoices, 1–120 (default 1).
    #[serde(default = "one")]
    #[schema(minimum = 1, maximum = 120)]
    pub interval_months: u32,
    /// First issue date, `YYYY-MM-DD` (tenant's time zone), in 2000–2099: invoices due since
    /// then are generated at the next run.
    #[schema(format = Date, pattern = r"^20[0-9]{2}-")]
    pub next_date: String,
    /// Days from issue to due date, 0–365.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 365)]
    pub due_days: u32,
}

/// The years a recurring invoice may start in and a run may be for: a recurring invoice made to
/// start in year 1 would generate some 24,000 invoices at its first run.
fn in_range(date: chrono::NaiveDate) -> bool {
    use chrono::Datelike as _;
    (2000..=2099).contains(&date.year())
}

fn one() -> u32 {
    1
}

/// Create a recurring invoice (agents).
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/recurring-invoices", tag = "autopay",
    params(("tenant" = String, Path)), request_body = RecurringInput,
    responses((status = 201, body = RecurringView), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_recurring(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(input): JsonBody<RecurringInput>,
) -> Result<(StatusCode, Json<RecurringView>), ApiError> {
    caller.agent()?;
    let mut problems = Vec::new();
    let mut bad = |field: &str, message: String| {
        problems.push(FieldProblem {
            field: field.into(),
            message,
        })
    };
    if !super::checks::date(&input.next_date).is_some_and(in_range) {
        bad("next_date", "a date in 2000–2099, YYYY-MM-DD".into());
    }
    if !(1..=1_000_000_000_000).contains(&input.amount) {
        bad("amount", "a positive amount in minor units".into());
    }
    if !(1..=120).contains(&input.interval_months) {
        bad("interval_months", "1 to 120 months".into());
    }
    if input.due_days > 365 {
        bad("due_days", "0 to 365 days".into());
    }
    if let Err(message) = super::checks::text(&input.description, 500) {
        bad("description", message);
    }
    let currency = super::checks::currency(&input.currency);
    if currency.is_none() {
        bad(
            "currency",
            format!("`{}` is not a currency Stripe accepts", input.currency),
        );
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
                currency: currency.unwrap_or_default().to_string(),
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
    responses((status = 200, description = "the run's report: date, generated_invoices, plan, results, errors"), (status = 403, body = ErrorBody)),
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
