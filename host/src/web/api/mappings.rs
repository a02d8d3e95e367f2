//! `/mappings`: the table of customers mapped to Stripe customers, adding and removing one, and
//! "Generate mappings" by name; and `/stripe/customers`, the Stripe customers to map to. For
//! administrators.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::caller::Caller;
use super::extract::{IdPath, JsonBody, Path, Query};
use crate::contract::exports::paydesk::stripe::admin::{self, SkipReason};
use crate::web::error::{ApiError, ErrorBody};
use crate::web::state::{AppState, blocking};

/// A row of the mappings table.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MappingView {
    pub customer_id: i64,
    #[serde(default)]
    pub customer_name: String,
    pub stripe_customer_id: String,
}

/// The mappings table: every mapped customer.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/mappings", tag = "mappings",
    params(("tenant" = String, Path)), responses((status = 200, body = [MappingView])), security(("bearer" = [])))]
pub async fn mappings(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<MappingView>>, ApiError> {
    caller.admin()?;
    let tenant = caller.tenant.clone();
    blocking(&state, move |app| {
        let mut rows = Vec::new();
        let mut after = None;
        loop {
            let page = app.db().customers(&tenant, after, 1000)?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            rows.extend(page.into_iter().filter_map(|c| {
                Some(MappingView {
                    customer_id: c.id,
                    customer_name: c.name,
                    stripe_customer_id: c.stripe_customer_id?,
                })
            }));
        }
        Ok(rows)
    })
    .await
    .map(Json)
}

/// What a mapping to add names.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingInput {
    pub customer_id: i64,
    /// A Stripe customer id (`cus_…`).
    #[schema(pattern = r"^cus_[A-Za-z0-9]{1,64}$")]
    pub stripe_customer_id: String,
}

/// Map a customer to a Stripe customer that exists; one-to-one.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/mappings", tag = "mappings",
    params(("tenant" = String, Path)), request_body = MappingInput,
    responses((status = 201, body = MappingView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn add_mapping(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(input): JsonBody<MappingInput>,
) -> Result<(StatusCode, Json<MappingView>), ApiError> {
    caller.admin()?;
    super::checks::stripe_id("stripe_customer_id", &input.stripe_customer_id, "cus")?;
    let tenant = caller.tenant.clone();
    blocking(&state, move |app| {
        app.add_mapping(&tenant, input.customer_id, &input.stripe_customer_id)?;
        let c = app.db().customer(&tenant, input.customer_id)?;
        Ok((
            StatusCode::CREATED,
            Json(MappingView {
                customer_id: c.id,
                customer_name: c.name,
                stripe_customer_id: c.stripe_customer_id.unwrap_or_default(),
            }),
        ))
    })
    .await
}

/// Remove a customer's mapping (and its automatic payment method).
#[utoipa::path(delete, path = "/api/v1/tenants/{tenant}/mappings/{id}", tag = "mappings",
    params(("tenant" = String, Path), ("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn remove_mapping(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<IdPath>,
) -> Result<StatusCode, ApiError> {
    caller.admin()?;
    let (tenant, customer_id) = (caller.tenant.clone(), path.id);
    blocking(&state, move |app| {
        app.remove_mapping(&tenant, customer_id)?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// A customer "Generate mappings" left alone, and why.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SkippedView {
    pub customer_id: i64,
    pub customer_name: String,
    /// `no_match`, `several_in_stripe`, `several_in_helpdesk`, `stripe_customer_taken`.
    pub reason: &'static str,
    pub stripe_customer_ids: Vec<String>,
}

/// What "Generate mappings" did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MappingReportView {
    pub mapped: Vec<MappingView>,
    pub skipped: Vec<SkippedView>,
    pub already_mapped: u32,
    pub stripe_customers_seen: u32,
}

fn reason(r: SkipReason) -> &'static str {
    match r {
        SkipReason::NoMatch => "no_match",
        SkipReason::SeveralInStripe => "several_in_stripe",
        SkipReason::SeveralInHelpdesk => "several_in_helpdesk",
        SkipReason::StripeCustomerTaken => "stripe_customer_taken",
    }
}

/// Map every unmapped customer whose name equals exactly one Stripe customer's name.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/mappings/generate", tag = "mappings",
    params(("tenant" = String, Path)), responses((status = 200, body = MappingReportView)), security(("bearer" = [])))]
pub async fn generate_mappings(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<MappingReportView>, ApiError> {
    caller.admin()?;
    let tenant = caller.tenant.clone();
    blocking(&state, move |app| {
        let r: admin::MappingReport = app.generate_mappings(&tenant)?;
        Ok(MappingReportView {
            mapped: r
                .mapped
                .into_iter()
                .map(|m| MappingView {
                    customer_id: m.customer_id,
                    customer_name: m.customer_name,
                    stripe_customer_id: m.stripe_customer_id,
                })
                .collect(),
            skipped: r
                .skipped
                .into_iter()
                .map(|s| SkippedView {
                    customer_id: s.customer_id,
                    customer_name: s.customer_name,
                    reason: reason(s.reason),
                    stripe_customer_ids: s.stripe_customer_ids,
                })
                .collect(),
            already_mapped: r.already_mapped,
            stripe_customers_seen: r.stripe_customers_seen,
        })
    })
    .await
    .map(Json)
}

/// A Stripe customer to map to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StripeCustomerView {
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
}

/// A page of Stripe customers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StripeCustomerPageView {
    pub customers: Vec<StripeCustomerView>,
    pub has_more: bool,
}

/// Where to start a page of Stripe customers.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct StripePage {
    /// The last Stripe customer id (`cus_…`) of the page before.
    #[param(pattern = r"^cus_[A-Za-z0-9]{1,64}$")]
    pub starting_after: Option<String>,
    /// How many, 1–100 (default 100; Stripe's own limit).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// One page of the tenant's Stripe customers.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/stripe/customers", tag = "mappings",
    params(("tenant" = String, Path), StripePage), responses((status = 200, body = StripeCustomerPageView)), security(("bearer" = [])))]
pub async fn stripe_customers(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<StripePage>,
) -> Result<Json<StripeCustomerPageView>, ApiError> {
    caller.admin()?;
    let limit = super::checks::limit(page.limit, 100, 100)?;
    if let Some(after) = &page.starting_after
        && super::checks::stripe_id("starting_after", after, "cus").is_err()
    {
        return Err(super::checks::parameter(
            "starting_after",
            format!("`{after}` is not a Stripe customer id `cus_…`"),
        ));
    }
    let tenant = caller.tenant.clone();
    blocking(&state, move |app| {
        let p = app.list_stripe_customers(&tenant, page.starting_after.as_deref(), limit)?;
        Ok(StripeCustomerPageView {
            has_more: p.has_more,
            customers: p
                .customers
                .into_iter()
                .map(|c| StripeCustomerView {
                    id: c.id,
                    name: c.name,
                    email: c.email,
                })
                .collect(),
        })
    })
    .await
    .map(Json)
}
