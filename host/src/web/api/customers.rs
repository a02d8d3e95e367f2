//! `/customers`: create / update (synced to Stripe when enabled) and read customers, a customer's
//! payment methods in Stripe, its automatic payment method (and whether it expires soon), and its
//! own autopay cap.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::caller::Caller;
use super::extract::{IdPath, JsonBody, Path, Query};
use crate::contract::Customer;
use crate::db::NewCustomer;
use crate::web::error::{ApiError, ErrorBody, FieldProblem};
use crate::web::state::{AppState, blocking};

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
    /// The customer's own cap on automatic charges (amount due plus fee), minor units of the
    /// tenant's currency (`stripe_currency`); none when it has none. The tenant-wide
    /// `autopay_max_amount` holds as well.
    pub stripe_autopay_max_amount: Option<i64>,
}

impl CustomerView {
    /// The customer with its cap, as stored.
    fn read(
        app: &crate::app::App,
        tenant: &crate::tenant::TenantId,
        id: i64,
    ) -> Result<Self, ApiError> {
        let cap = app.db().autopay_cap(tenant, id)?;
        Ok(CustomerView::with_cap(app.db().customer(tenant, id)?, cap))
    }

    fn with_cap(c: Customer, cap: Option<i64>) -> Self {
        CustomerView {
            id: c.id,
            name: c.name,
            accounts_email: c.accounts_email,
            accounts_cc_email: c.accounts_cc_email,
            stripe_customer_id: c.stripe_customer_id,
            stripe_payment_method_id: c.stripe_payment_method_id,
            stripe_payment_method_name: c.stripe_payment_method_name,
            stripe_sync_error: c.stripe_sync_error,
            stripe_autopay_max_amount: cap,
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
        let customers = app.db().customers(&tenant, page.after_id, limit)?;
        let caps = match customers.last() {
            Some(last) => app.db().autopay_caps(&tenant, page.after_id, last.id)?,
            None => Vec::new(),
        };
        Ok(customers
            .into_iter()
            .map(|c| {
                let cap = caps.iter().find(|(id, _)| *id == c.id).map(|(_, cap)| *cap);
                CustomerView::with_cap(c, cap)
            })
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
    blocking(&state, move |app| CustomerView::read(app, &tenant, id))
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
                customer: CustomerView::with_cap(saved.customer, None),
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
        let cap = app.db().autopay_cap(&tenant, id)?;
        Ok(Json(SavedCustomerView {
            customer: CustomerView::with_cap(saved.customer, cap),
            sync_error: saved.sync_error.map(|e| e.to_string()),
        }))
    })
    .await
}

/// A payment method attached to the customer in Stripe.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PaymentMethodView {
    pub id: String,
    /// Stripe's type name (`card`, `sepa_debit`, …).
    #[serde(rename = "type")]
    pub method_type: String,
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
                method_type: crate::db::method_type_name(&m.method_type),
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
        CustomerView::read(app, &tenant, id)
    })
    .await
    .map(Json)
}

/// The customer's own cap on automatic charges.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutopayCapInput {
    /// The most one automatic charge of the customer's invoices may be (amount due plus fee), in
    /// minor units of the tenant's currency (`stripe_currency`); null (or absent) removes the
    /// customer's own cap. The tenant-wide `autopay_max_amount` holds as well.
    #[schema(minimum = 1, maximum = 99999999)]
    pub stripe_autopay_max_amount: Option<i64>,
}

/// Set or remove the customer's own cap on automatic charges. Above it (or above the tenant's
/// `autopay_max_amount`) the daily run skips the invoice, says why in its plan and audit trail,
/// and tells the notification address once.
#[utoipa::path(put, path = "/api/v1/tenants/{tenant}/customers/{id}/autopay-cap", tag = "customers",
    params(("tenant" = String, Path), ("id" = i64, Path)), request_body = AutopayCapInput,
    responses((status = 200, body = CustomerView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn set_autopay_cap(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<IdPath>,
    JsonBody(input): JsonBody<AutopayCapInput>,
) -> Result<Json<CustomerView>, ApiError> {
    caller.agent()?;
    let cap = input.stripe_autopay_max_amount;
    if let Some(message) = cap.and_then(paydesk_plugin::domain::caps::cap_error) {
        return Err(ApiError::invalid(
            "the cap was not saved; see the field",
            vec![FieldProblem {
                field: "stripe_autopay_max_amount".into(),
                message,
            }],
        ));
    }
    let (tenant, id) = (caller.tenant.clone(), path.id);
    blocking(&state, move |app| {
        app.db().set_autopay_cap(&tenant, id, cap)?;
        CustomerView::read(app, &tenant, id)
    })
    .await
    .map(Json)
}

/// The customer's automatic card when it expires this month or next (the tenant's today).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExpiringCardView {
    /// `pm_…`.
    pub payment_method_id: String,
    pub display_name: String,
    pub exp_month: u32,
    pub exp_year: u32,
    /// It expires this month (else next month).
    pub this_month: bool,
    /// The customer's reminder for this month is in the outbox.
    pub reminded: bool,
}

/// Whether the customer's automatic card expires this month or next (read from Stripe when it
/// may); null when it doesn't, or the customer has no automatic card.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/customers/{id}/expiring-card", tag = "customers",
    params(("tenant" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = Option<ExpiringCardView>), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn expiring_card(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<IdPath>,
) -> Result<Json<Option<ExpiringCardView>>, ApiError> {
    caller.agent()?;
    let (tenant, id) = (caller.tenant.clone(), path.id);
    blocking(&state, move |app| {
        app.db().customer(&tenant, id)?;
        Ok(app
            .expiring_automatic_card(&tenant, id)?
            .map(|(card, reminded)| ExpiringCardView {
                payment_method_id: card.payment_method_id,
                display_name: card.display_name,
                exp_month: card.exp_month,
                exp_year: card.exp_year,
                this_month: card.this_month,
                reminded,
            }))
    })
    .await
    .map(Json)
}
