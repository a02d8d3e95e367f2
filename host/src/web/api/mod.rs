//! The JSON API under `/api/v1/tenants/{tenant}/…`: the route table, and a module per resource it
//! serves, named for its path (`/payments` in `payments.rs`, `/recurring-invoices` in
//! `recurring_invoices.rs`, …). Every handler takes the [`caller::Caller`] its bearer token names,
//! checks the role the route asks for, reads its input with the API's extractors ([`extract`]) and
//! [`checks`], and runs the blocking work (database, plugin calls) through
//! [`crate::web::state::blocking`]; errors answer in one shape ([`crate::web::error::ApiError`]).

pub mod agents;
pub mod autopay;
pub mod caller;
pub mod charges;
pub mod checks;
pub mod customers;
pub mod email_templates;
pub mod extract;
pub mod invoices;
pub mod mappings;
pub mod payments;
mod people;
pub mod recurring_invoices;
pub mod refunds;
pub mod settings;
pub mod setup;
pub mod tokens;
pub mod users;
pub mod webhook_endpoint;

use axum::Router;
use axum::routing::{get, post, put};

use crate::web::state::AppState;

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
        .route(&format!("{t}/customers/{{id}}/setup"), post(setup::start))
        .route(
            &format!("{t}/customers/{{id}}/setup/confirm"),
            post(setup::confirm),
        )
        .route(
            &format!("{t}/customers/{{id}}/autopay-cap"),
            put(customers::set_autopay_cap),
        )
        .route(
            &format!("{t}/customers/{{id}}/expiring-card"),
            get(customers::expiring_card),
        )
        .route(
            &format!("{t}/mappings"),
            get(mappings::mappings).post(mappings::add_mapping),
        )
        .route(
            &format!("{t}/mappings/generate"),
            post(mappings::generate_mappings),
        )
        .route(
            &format!("{t}/mappings/{{id}}"),
            axum::routing::delete(mappings::remove_mapping),
        )
        .route(
            &format!("{t}/stripe/customers"),
            get(mappings::stripe_customers),
        )
        .route(
            &format!("{t}/invoices"),
            get(invoices::list).post(invoices::create),
        )
        .route(&format!("{t}/invoices/{{id}}"), get(invoices::get_one))
        .route(
            &format!("{t}/invoices/{{id}}/charges"),
            post(charges::charge),
        )
        .route(
            &format!("{t}/invoices/{{id}}/charges/quote"),
            post(charges::quote),
        )
        .route(
            &format!("{t}/invoices/{{id}}/payments/{{payment}}/refunds"),
            post(refunds::refund),
        )
        .route(
            &format!("{t}/invoices/{{id}}/payments/{{payment}}/refunds/quote"),
            post(refunds::quote),
        )
        .route(
            &format!("{t}/invoices/{{id}}/refunds/{{refund}}/retry"),
            post(refunds::retry),
        )
        .route(&format!("{t}/payments"), post(payments::pay))
        .route(&format!("{t}/payments/quote"), post(payments::quote))
        .route(
            &format!("{t}/payments/reconcile"),
            post(payments::reconcile),
        )
        .route(
            &format!("{t}/payments/{{intent}}/refresh"),
            post(payments::refresh),
        )
        .route(
            &format!("{t}/webhooks/stripe-endpoint"),
            post(webhook_endpoint::ensure_webhooks),
        )
        .route(
            &format!("{t}/email-templates/{{id}}"),
            get(email_templates::get_template).put(email_templates::put_template),
        )
        .route(&format!("{t}/users"), post(users::create_user))
        .route(
            &format!("{t}/users/{{id}}/tokens"),
            post(users::create_user_token),
        )
        .route(
            &format!("{t}/recurring-invoices"),
            get(recurring_invoices::list_recurring).post(recurring_invoices::create_recurring),
        )
        .route(&format!("{t}/autopay/run"), post(autopay::run))
        .route(&format!("{t}/autopay/status"), get(autopay::status))
        .route(&format!("{t}/autopay/audit"), get(autopay::audit))
        .route(
            &format!("{t}/invoices/{{id}}/document"),
            get(invoices::document),
        )
        .route(&format!("{t}/tokens"), get(tokens::list_tokens))
        .route(
            &format!("{t}/tokens/{{id}}"),
            axum::routing::delete(tokens::revoke_token),
        )
        .route(
            &format!("{t}/agents/{{id}}"),
            axum::routing::delete(agents::remove_agent),
        )
        .route(
            &format!("{t}/agents/{{id}}/disable"),
            post(agents::disable_agent),
        )
        .route(
            &format!("{t}/agents/{{id}}/enable"),
            post(agents::enable_agent),
        )
        .route(
            &format!("{t}/users/{{id}}"),
            axum::routing::delete(users::remove_user),
        )
        .route(
            &format!("{t}/users/{{id}}/disable"),
            post(users::disable_user),
        )
        .route(
            &format!("{t}/users/{{id}}/enable"),
            post(users::enable_user),
        )
}
