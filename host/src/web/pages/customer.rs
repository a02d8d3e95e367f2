//! `/app/customers/{id}`, a customer's Billing › Stripe section: its Stripe customer and sync
//! status, its payment methods in Stripe, choosing the one for automatic payments (and whether it
//! expires this month or next), and its own autopay cap.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;

use super::error::PageError;
use super::respond::{Flash, Next, finish, page, told};
use super::session::Viewer;
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "customer.html")]
struct CustomerPage {
    flash: String,
    csrf: String,
    is_admin: bool,
    id: i64,
    name: String,
    accounts_email: String,
    accounts_cc: String,
    stripe_id: String,
    sync_status: String,
    automatic: String,
    methods: Vec<(String, String, bool)>,
    methods_error: String,
    /// The customer's own cap in minor units, empty for none.
    cap: String,
    /// The cap as money (`USD 500.00`), or what holds without one.
    cap_shown: String,
    /// The tenant-wide cap as money, empty for none.
    tenant_cap: String,
    currency: String,
    /// The automatic card's expiry warning, empty when it doesn't expire this month or next.
    expiring: String,
}

/// `amount` minor units of `currency` as a person reads it (`USD 500.00`).
fn money(amount: i64, currency: &str) -> String {
    match paydesk_plugin::domain::money::Currency::parse(currency) {
        Ok(c) => paydesk_plugin::domain::money::Money::new(amount, c).to_string(),
        Err(_) => format!("{amount} minor units of {}", currency.to_ascii_uppercase()),
    }
}

pub async fn customer(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Query(flash): Query<Flash>,
) -> Result<Response, PageError> {
    viewer.agent()?;
    page(&state, move |app| {
        let c = app.db().customer(&viewer.tenant, id)?;
        let cap = app.db().autopay_cap(&viewer.tenant, id)?;
        let currency = app.db().tenant(&viewer.tenant)?.settings.stripe_currency;
        let tenant_cap = app.db().tenant(&viewer.tenant)?.settings.autopay_max_amount;
        // Shown only when it can be told; a page without it is still the customer's page.
        let expiring = match c.stripe_payment_method_id {
            Some(_) => match app.expiring_automatic_card(&viewer.tenant, id) {
                Ok(Some((card, reminded))) => format!(
                    "{} expires {} ({}): {}",
                    card.display_name,
                    if card.this_month {
                        "this month"
                    } else {
                        "next month"
                    },
                    paydesk_plugin::domain::card_expiry::shown(card.exp_month, card.exp_year),
                    if reminded {
                        "the customer was emailed a reminder this month."
                    } else {
                        "the daily run emails the customer a reminder."
                    }
                ),
                Ok(None) => String::new(),
                Err(e) => format!(
                    "Whether the card expires soon could not be read: {}",
                    PageError::from(e).message
                ),
            },
            None => String::new(),
        };
        let (methods, methods_error) = if c.stripe_customer_id.is_some() {
            match app.list_payment_methods(&viewer.tenant, id) {
                Ok(m) => (
                    m.into_iter()
                        .map(|m| (m.id, m.display_name, m.is_automatic))
                        .collect(),
                    String::new(),
                ),
                Err(e) => (Vec::new(), PageError::from(e).message),
            }
        } else {
            (Vec::new(), String::new())
        };
        Ok(CustomerPage {
            flash: flash.text(app, &viewer),
            csrf: viewer.csrf.clone(),
            is_admin: viewer.is_admin(),
            id,
            accounts_email: c.accounts_email.unwrap_or_else(|| "none".into()),
            accounts_cc: c.accounts_cc_email.unwrap_or_else(|| "none".into()),
            stripe_id: c.stripe_customer_id.unwrap_or_default(),
            sync_status: match c.stripe_sync_error {
                Some(e) => format!("failed: {e}"),
                None => "in sync".into(),
            },
            automatic: c
                .stripe_payment_method_name
                .unwrap_or_else(|| "No automatic payment setup".into()),
            name: c.name,
            methods,
            methods_error,
            cap: cap.map(|c| c.to_string()).unwrap_or_default(),
            cap_shown: cap.map_or_else(|| "none of its own".into(), |c| money(c, &currency)),
            tenant_cap: tenant_cap.map(|c| money(c, &currency)).unwrap_or_default(),
            currency: currency.to_ascii_uppercase(),
            expiring,
        })
    })
    .await
}

pub async fn set_automatic_method(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, PageError> {
    viewer.agent()?;
    let form = viewer.form(&body)?;
    let pm = form
        .field("payment_method_id")
        .map(str::to_string)
        .filter(|p| !p.is_empty());
    finish(
        &state,
        viewer,
        format!("/app/customers/{id}"),
        move |app, viewer| {
            Ok(told(
                app.set_automatic_payment_method(&viewer.tenant, id, pm.as_deref()),
                "Not changed",
                |name| match name {
                    Some(name) => format!("Automatic payments now use {name}."),
                    None => "The automatic payment method was cleared.".to_string(),
                },
            ))
        },
    )
    .await
}

pub async fn set_autopay_cap(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, PageError> {
    viewer.agent()?;
    let form = viewer.form(&body)?;
    let entered = form.text("stripe_autopay_max_amount");
    finish(
        &state,
        viewer,
        format!("/app/customers/{id}"),
        move |app, viewer| {
            let cap = match entered.as_deref().map(str::parse::<i64>) {
                None => None,
                Some(Ok(v)) => Some(v),
                Some(Err(_)) => {
                    return Ok(Next::Back(
                        "Not changed: the cap is a whole number of minor units, or empty for none"
                            .into(),
                    ));
                }
            };
            if let Some(message) = cap.and_then(paydesk_plugin::domain::caps::cap_error) {
                return Ok(Next::Back(format!("Not changed: {message}")));
            }
            Ok(told(
                app.db().set_autopay_cap(&viewer.tenant, id, cap),
                "Not changed",
                |()| match cap {
                    Some(_) => "The customer's automatic payment cap was saved.".to_string(),
                    None => "The customer's automatic payment cap was removed.".to_string(),
                },
            ))
        },
    )
    .await
}
