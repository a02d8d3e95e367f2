//! The JSON API under `/api/v1/tenants/{tenant}/…`: settings, customers with their Stripe side,
//! mappings. Every handler authenticates the caller, checks the permission, and runs the blocking
//! work (database, plugin calls) off the async threads.

pub mod admin;
pub mod autopay;
pub mod checks;
pub mod customers;
pub mod extract;
pub mod invoices;
pub mod people;
pub mod settings;

use axum::Router;
use axum::routing::{get, post, put};

use super::AppState;
use super::error::ApiError;
use crate::app::App;

/// A route's `{tenant}` (checked by the `Caller` extractor) and `{id}`.
#[derive(Debug, serde::Deserialize)]
pub struct IdPath {
    #[allow(dead_code)]
    tenant: String,
    pub id: i64,
}

/// Run blocking work (database, plugin calls) on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&App) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let app = state.app.clone();
    tokio::task::spawn_blocking(move || f(&app))
        .await
        .map_err(|_| ApiError::internal("the request's worker failed"))?
}

/// The API's routes.
pub fn routes() -> Router<AppState> {
    let t = "/api/v1/tenants/{tenant}";
    Router::new()
        .route(
            &format!("{t}/settings"),
            get(settings::get_settings).patch(settings::patch_settings),
        )
        .route(
            &format!("{t}/settings/test-connection"),
            post(settings::test_connection),
        )
        .route(
            &format!("{t}/customers"),
            get(customers::list).post(customers::create),
        )
        .route(
            &format!("{t}/customers/{{id}}"),
            get(customers::get_one).put(customers::update),
        )
        .route(
            &format!("{t}/customers/{{id}}/payment-methods"),
            get(customers::payment_methods),
        )
        .route(
            &format!("{t}/customers/{{id}}/automatic-payment-method"),
            put(customers::set_automatic_payment_method),
        )
        .route(
            &format!("{t}/mappings"),
            get(customers::mappings).post(customers::add_mapping),
        )
        .route(
            &format!("{t}/mappings/generate"),
            post(customers::generate_mappings),
        )
        .route(
            &format!("{t}/mappings/{{id}}"),
            axum::routing::delete(customers::remove_mapping),
        )
        .route(
            &format!("{t}/stripe/customers"),
            get(customers::stripe_customers),
        )
        .route(
            &format!("{t}/invoices"),
            get(invoices::list).post(invoices::create),
        )
        .route(&format!("{t}/invoices/{{id}}"), get(invoices::get_one))
        .route(&format!("{t}/payments"), post(invoices::pay))
        .route(&format!("{t}/payments/quote"), post(invoices::quote))
        .route(&format!("{t}/payments/reconcile"), post(admin::reconcile))
        .route(
            &format!("{t}/payments/{{intent}}/refresh"),
            post(invoices::refresh),
        )
        .route(
            &format!("{t}/webhooks/stripe-endpoint"),
            post(admin::ensure_webhooks),
        )
        .route(
            &format!("{t}/email-templates/{{id}}"),
            get(admin::get_template).put(admin::put_template),
        )
        .route(&format!("{t}/users"), post(admin::create_user))
        .route(
            &format!("{t}/users/{{id}}/tokens"),
            post(admin::create_user_token),
        )
        .route(
            &format!("{t}/recurring-invoices"),
            get(autopay::list_recurring).post(autopay::create_recurring),
        )
        .route(&format!("{t}/autopay/run"), post(autopay::run))
        .route(&format!("{t}/autopay/status"), get(autopay::status))
        .route(&format!("{t}/autopay/audit"), get(autopay::audit))
        .route(
            &format!("{t}/invoices/{{id}}/document"),
            get(invoices::document),
        )
        .route(&format!("{t}/tokens"), get(people::list_tokens))
        .route(
            &format!("{t}/tokens/{{id}}"),
            axum::routing::delete(people::revoke_token),
        )
        .route(
            &format!("{t}/agents/{{id}}"),
            axum::routing::delete(people::remove_agent),
        )
        .route(
            &format!("{t}/agents/{{id}}/disable"),
            post(people::disable_agent),
        )
        .route(
            &format!("{t}/agents/{{id}}/enable"),
            post(people::enable_agent),
        )
        .route(
            &format!("{t}/users/{{id}}"),
            axum::routing::delete(people::remove_user),
        )
        .route(
            &format!("{t}/users/{{id}}/disable"),
            post(people::disable_user),
        )
        .route(
            &format!("{t}/users/{{id}}/enable"),
            post(people::enable_user),
        )
}
