//! The reference app's pages, server-rendered with askama (the only script is `static/paydesk.js`,
//! for Stripe.js): the route table, and a module per page named for it — sign-in (`login.rs`), the
//! agents' `/app` (`dashboard.rs`, `setup.rs` with `mappings.rs` and `autopay.rs` on it,
//! `customer.rs`, `invoice.rs`, `people.rs`), the portal (`portal.rs`), the invoice PDFs
//! (`pdf.rs`) and paying as both sides pay (`payment.rs`). Below them: who is
//! looking and may do what ([`session`]), the posted form ([`form`]), how a page answers
//! ([`respond`]), fails ([`error`]) and words things ([`words`]). The work itself is `App`'s.

mod autopay;
mod customer;
mod dashboard;
mod error;
mod form;
mod invoice;
mod login;
mod mappings;
mod payment;
mod pdf;
mod people;
mod portal;
mod respond;
mod session;
mod setup;
mod words;

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};

use crate::db::Principal;
use crate::web::state::AppState;
use session::Viewer;

/// The pages' routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/static/paydesk.js", get(script))
        .route("/static/paydesk.css", get(style))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/refresh/{intent}", post(payment::refresh))
        .route("/app", get(dashboard::dashboard))
        .route("/app/setup", get(setup::setup).post(setup::save_setup))
        .route("/app/setup/test-connection", post(setup::test_connection))
        .route("/app/setup/mappings", post(mappings::add_mapping))
        .route(
            "/app/setup/mappings/{id}/remove",
            post(mappings::remove_mapping),
        )
        .route(
            "/app/setup/mappings/generate",
            post(mappings::generate_mappings),
        )
        .route("/app/setup/autopay", post(autopay::autopay))
        .route("/app/customers/{id}", get(customer::customer))
        .route(
            "/app/customers/{id}/automatic-method",
            post(customer::set_automatic_method),
        )
        .route(
            "/app/customers/{id}/autopay-cap",
            post(customer::set_autopay_cap),
        )
        .route("/app/invoices/{id}", get(invoice::invoice))
        .route("/app/invoices/{id}/charge", get(invoice::confirm_saved))
        .route("/app/invoices/{id}/pay-saved", post(invoice::pay_saved))
        .route(
            "/app/invoices/{id}/payments/{payment}/refund",
            post(invoice::refund_payment),
        )
        .route(
            "/app/invoices/{id}/refunds/{refund}/retry",
            post(invoice::retry_refund),
        )
        .route("/app/invoices/{id}/pay-new", post(invoice::pay_new))
        .route("/app/invoices/{id}/pdf", get(pdf::agent_pdf))
        .route("/app/payments/confirm", post(payment::confirm))
        .route("/app/people", get(people::people))
        .route("/app/people/agents/{id}", post(people::save_agent))
        .route("/app/people/users/{id}", post(people::save_user))
        .route(
            "/app/people/agents/{id}/disable",
            post(people::disable_agent),
        )
        .route("/app/people/agents/{id}/enable", post(people::enable_agent))
        .route("/app/people/agents/{id}/remove", post(people::remove_agent))
        .route("/app/people/users/{id}/disable", post(people::disable_user))
        .route("/app/people/users/{id}/enable", post(people::enable_user))
        .route("/app/people/users/{id}/remove", post(people::remove_user))
        .route("/app/people/tokens/{id}/revoke", post(people::revoke_token))
        .route("/portal", get(portal::invoices))
        .route("/portal/pay", get(portal::pay_page).post(portal::choose))
        .route("/portal/pay/confirm", post(portal::pay_saved))
        .route("/portal/pay/new", post(portal::pay_new))
        .route("/portal/payments/confirm", post(payment::confirm))
        .route(
            "/portal/payments/{intent}/authenticate",
            post(portal::authenticate),
        )
        .route("/portal/payment-method", get(portal::method_page))
        .route("/portal/payment-method/start", post(portal::start_method))
        .route(
            "/portal/payment-method/complete",
            post(portal::complete_method),
        )
        .route(
            "/portal/payment-method/confirm",
            post(portal::confirm_method),
        )
        .route("/portal/stripe-portal", post(portal::stripe_portal))
        .route("/portal/invoices/{id}/pdf", get(pdf::portal_pdf))
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/javascript")],
        include_str!("../../../static/paydesk.js"),
    )
}

async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css")],
        include_str!("../../../static/paydesk.css"),
    )
}

async fn home(viewer: Option<Viewer>) -> Redirect {
    match viewer {
        Some(v) if matches!(v.principal, Principal::Agent(_)) => Redirect::to("/app"),
        Some(_) => Redirect::to("/portal"),
        None => Redirect::to("/login"),
    }
}
