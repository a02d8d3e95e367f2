//! `/recurring-invoices`: the invoices generated every few months for automatic payment, listed
//! and created by agents.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::caller::Caller;
use super::checks::in_range;
use super::extract::JsonBody;
use crate::db::NewRecurring;
use crate::web::error::{ApiError, ErrorBody, FieldProblem};
use crate::web::state::{AppState, blocking};

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
