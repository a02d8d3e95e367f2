//! Customers and their Stripe side: create / update (synced to Stripe when enabled), read, the
//! mappings table and "Generate mappings", the Stripe customers to map to, a customer's payment
//! methods and its automatic payment method.

use axum::Json;
use axum::extract::State;

use super::extract::{JsonBody, Path, Query};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{IdPath, blocking};
use crate::db::NewCustomer;
use crate::runtime::bindings::Customer;
use crate::runtime::bindings::exports::paydesk::stripe::admin::{self, SkipReason};
use crate::web::AppState;
use crate::web::auth::Caller;
use crate::web::error::{ApiError, ErrorBody, FieldProblem};

/// A customer with its Stripe fields.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomerView {
    pub id: i64,
    pub name: String,
    pub accounts_email: Option<String>,
    pub accounts_cc_email: Option<String>,
    pub stripe_customer_id: Option<String>,
    pub stripe_payment_method_id: Option<String>,
    pub stripe_payment_method_name: Option<String>,
    /// Why the last sync to Stripe failed; none when in sync.
    pub stripe_sync_error: Option<String>,
}

impl From<Customer> for CustomerView {
    fn from(c: Customer) -> Self {
        CustomerView {
            id: c.id,
            name: c.name,
            accounts_email: c.accounts_email,
            accounts_cc_email: c.accounts_cc_email,
            stripe_customer_id: c.stripe_customer_id,
            stripe_payment_method_id: c.stripe_payment_method_id,
            stripe_payment_method_name: c.stripe_payment_method_name,
            stripe_sync_error: c.stripe_sync_error,
        }
    }
}

/// A customer's editable fields.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    /// Must contain a character that is not white space; stored trimmed.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"[^\s\u001c-\u001f\u0085\ufeff]"
    )]
    pub name: String,
    /// An email address with a dotted domain (`ap@globex.test`); null for none.
    #[serde(default)]
    #[schema(format = Email, max_length = 254)]
    pub accounts_email: Option<String>,
    /// An email address with a dotted domain; null for none.
    #[serde(default)]
    #[schema(format = Email, max_length = 254)]
    pub accounts_cc_email: Option<String>,
}

impl CustomerInput {
    fn validated(self) -> Result<NewCustomer, ApiError> {
        let name = self.name.trim().to_string();
        let mut problems = Vec::new();
        if let Err(message) = super::checks::text(&name, 200) {
            problems.push(FieldProblem {
                field: "name".into(),
                message,
            });
        }
        let (accounts_email, accounts_cc_email) = (self.accounts_email, self.accounts_cc_email);
        for (field, address) in [
            ("accounts_email", &accounts_email),
            ("accounts_cc_email", &accounts_cc_email),
        ] {
            if let Some(Err(message)) = address.as_deref().map(crate::addresses::check) {
                problems.push(FieldProblem {
                    field: field.into(),
                    message,
                });
            }
        }
        if !problems.is_empty() {
            return Err(ApiError::invalid(
                "the customer was not saved; see the fields",
                problems,
            ));
        }
        Ok(NewCustomer {
            name,
            accounts_email,
            accounts_cc_email,
        })
    }
}

/// A saved customer and what syncing it to Stripe did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SavedCustomerView {
    pub customer: CustomerView,
    /// The sync's failure; the customer is saved regardless, and the next save or the daily run retries.
    pub sync_error: Option<String>,
}

/// Customers, by id.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct Page {
    /// Customers with a larger id than this.
    pub after_id: Option<i64>,
    /// How many, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/customers", tag = "customers",
    params(("tenant" = String, Path), Page),
    responses((status = 200, body = [CustomerView])), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<Page>,
) -> Result<Json<Vec<CustomerView>>, ApiError> {
    caller.agent()?;
    let limit = super::checks::limit(page.limit, 100, 1000)?;
    let tenant = caller.tenant.clone();
    blocking(&state, move |app| {
        Ok(app
            .db()
            .customers(&tenant, page.after_id, limit)?
            .into_iter()
            .map(Into::into)
            .collect())
    })
    .await
    .map(Json)
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/customers/{id}", tag = "customers",
    params(("tenant" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = CustomerView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<IdPath>,
) -> Result<Json<CustomerView>, ApiError> {
    caller.agent()?;
    let (tenant, id) = (caller.tenant.clone(), path.id);
    blocking(&state, move |app| {
        Ok(app.db().customer(&tenant, id)?.into())
    })
    .await
    .map(Json)
}

/// Create a customer; with `sync_customers_to_stripe` on, its Stripe customer too.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/customers", tag = "customers",
    params(("tenant" = String, Path)), request_body = CustomerInput,
    responses((status = 201, body = SavedCustomerView), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(input): JsonBody<CustomerInput>,
) -> Result<(StatusCode, Json<SavedCustomerView>), ApiError> {
    caller.agent()?;
    let new = input.validated()?;
    let tenant = caller.tenant.clone();
    blocking(&state, move |app| {
        let saved = app.create_customer(&tenant, &new)?;
        Ok((
            StatusCode::CREATED,
            Json(SavedCustomerView {
                customer: saved.customer.into(),
                sync_error: saved.sync_error.map(|e| e.to_string()),
            }),
        ))
    })
    .await
}

/// Update a customer; with `sync_customers_to_stripe` on, its Stripe customer too.
#[utoipa::path(put, path = "/api/v1/tenants/{tenant}/customers/{id}", tag = "customers",
    params(("tenant" = String, Path), ("id" = i64, Path)), request_body = CustomerInput,
    responses((status = 200, body = SavedCustomerView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<IdPath>,
    JsonBody(input): JsonBody<CustomerInput>,
) -> Result<Json<SavedCustomerView>, ApiError> {
    caller.agent()?;
    let new = input.validated()?;
    let (tenant, id) = (caller.tenant.clone(), path.id);
    blocking(&state, move |app| {
        let saved = app.update_customer(&tenant, id, &new)?;
        Ok(Json(SavedCustomerView {
            customer: saved.customer.into(),
            sync_error: saved.sync_error.map(|e| e.to_string()),
        }))
    })
    .await
}

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

/// A payment method attached to the customer in Stripe.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PaymentMethodView {
    pub id: String,
    /// Stripe's type name (`card`, `sepa_debit`, …).
    #[serde(rename = "type")]
    pub method_type: &'static str,
    pub display_name: String,
    pub is_automatic: bool,
}

/// The customer's payment methods in Stripe, of the imported types only.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/customers/{id}/payment-methods", tag = "customers",
    params(("tenant" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = [PaymentMethodView]), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn payment_methods(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<IdPath>,
) -> Result<Json<Vec<PaymentMethodView>>, ApiError> {
    caller.agent()?;
    let (tenant, id) = (caller.tenant.clone(), path.id);
    blocking(&state, move |app| {
        Ok(app
            .list_payment_methods(&tenant, id)?
            .into_iter()
            .map(|m| PaymentMethodView {
                id: m.id,
                method_type: crate::db::method_type_name(m.method_type),
                display_name: m.display_name,
                is_automatic: m.is_automatic,
            })
            .collect())
    })
    .await
    .map(Json)
}

/// The method to use for automatic payments; null clears it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutomaticMethodInput {
    /// One of the customer's listed payment methods (`pm_…`); null clears it.
    #[schema(pattern = r"^pm_[A-Za-z0-9]{1,64}$")]
    pub payment_method_id: Option<String>,
}

/// Set or clear the customer's automatic payment method (one of its listed methods only).
#[utoipa::path(put, path = "/api/v1/tenants/{tenant}/customers/{id}/automatic-payment-method", tag = "customers",
    params(("tenant" = String, Path), ("id" = i64, Path)), request_body = AutomaticMethodInput,
    responses((status = 200, body = CustomerView), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn set_automatic_payment_method(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<IdPath>,
    JsonBody(input): JsonBody<AutomaticMethodInput>,
) -> Result<Json<CustomerView>, ApiError> {
    caller.agent()?;
    if let Some(pm) = &input.payment_method_id {
        super::checks::stripe_id("payment_method_id", pm, "pm")?;
    }
    let (tenant, id) = (caller.tenant.clone(), path.id);
    blocking(&state, move |app| {
        app.set_automatic_payment_method(&tenant, id, input.payment_method_id.as_deref())?;
        Ok(app.db().customer(&tenant, id)?.into())
    })
    .await
    .map(Json)
}
