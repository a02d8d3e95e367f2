//! `/portal`, the portal's "My Invoices" (REQUIREMENTS M12–M14), and its `/portal/pay`,
//! `/portal/payment-method` and `/portal/stripe-portal`: only for users whose invoice access level
//! shows invoices; a Pay button on each unpaid invoice and "Pay all outstanding" with the total and
//! each fee shown first; the saved method or a new card through Stripe.js; "Add payment method" as
//! `show_auto_payment_on_portal` allows; the Stripe customer-portal link; a banner for payments
//! waiting for the payer's authentication.

use askama::Template;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::error::PageError;
use super::payment;
use super::respond::{Flash, Next, finish, json_answer, page, render, told};
use super::session::Viewer;
use super::words::money;
use crate::app::App;
use crate::contract::{
    Initiator, Invoice, InvoiceFilter, InvoiceStatus, PaymentFilter, PaymentMethodType,
    PaymentStatus, User,
};
use crate::web::state::{AppState, blocking};
use paydesk_plugin::domain::vocabulary;

/// The portal's page, where its forms go back to.
const PORTAL: &str = "/portal";

pub struct PortalRow {
    pub id: i64,
    pub number: String,
    pub issue_date: String,
    pub due_date: String,
    pub amount_due: String,
    pub status: &'static str,
    pub status_label: &'static str,
    pub payable: bool,
    /// A payment of it is `processing` (a bank debit takes days): said instead of "Pay".
    pub processing: bool,
}

#[derive(Template)]
#[template(path = "portal.html")]
struct PortalPage {
    flash: String,
    csrf: String,
    user_name: String,
    customer: String,
    automatic: String,
    can_add_method: bool,
    portal_link: bool,
    invoices: Vec<PortalRow>,
    any_payable: bool,
    actions: Vec<(String, String)>,
    publishable_key: String,
    stripe_js: String,
}

pub async fn invoices(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(flash): Query<Flash>,
) -> Result<Response, PageError> {
    let u = viewer.payer()?.clone();
    let stripe_js = state.stripe_js_url.clone();
    page(&state, move |app| {
        let tenant = app.db().tenant(&viewer.tenant)?;
        let customer = app.db().customer(&viewer.tenant, u.customer_id)?;
        let filter = InvoiceFilter {
            customer_id: Some(u.customer_id),
            status: None,
            due_on_or_before: None,
            recurring_only: false,
            after_id: None,
            limit: 1000,
        };
        let mine: Vec<Invoice> = app
            .db()
            .invoices(&viewer.tenant, &filter)?
            .into_iter()
            .filter(|i| crate::access::user_sees(&u, i))
            .collect();
        let mut actions = Vec::new();
        let mut rows = Vec::new();
        for i in mine {
            let payments = app
                .db()
                .payments(&viewer.tenant, &PaymentFilter::Invoice(i.id))?;
            let in_flight = payments.iter().any(|p| {
                matches!(
                    p.status,
                    PaymentStatus::Processing | PaymentStatus::RequiresAction
                )
            });
            for p in payments
                .iter()
                .filter(|p| p.status == PaymentStatus::RequiresAction)
            {
                if let Some(intent) = &p.intent_id {
                    actions.push((intent.clone(), i.number.clone()));
                }
            }
            let processing = payments
                .iter()
                .any(|p| p.status == PaymentStatus::Processing);
            rows.push(PortalRow {
                processing,
                id: i.id,
                payable: i.status == InvoiceStatus::AwaitingPayment
                    && i.amount_due > 0
                    && !in_flight,
                number: i.number,
                issue_date: i.issue_date,
                due_date: i.due_date,
                amount_due: money(i.amount_due, &i.currency),
                status: vocabulary::InvoiceStatus::from(i.status).wire_name(),
                status_label: vocabulary::InvoiceStatus::from(i.status).label(),
            });
        }
        let s = &tenant.settings;
        Ok(PortalPage {
            flash: flash.text(app, &viewer),
            csrf: viewer.csrf.clone(),
            user_name: u.name.clone(),
            automatic: customer
                .stripe_payment_method_name
                .clone()
                .unwrap_or_else(|| "No automatic payment setup".into()),
            can_add_method: crate::access::may_add_method(s.show_auto_payment_on_portal, &customer),
            portal_link: s.stripe_customer_portal_enabled && customer.stripe_customer_id.is_some(),
            customer: customer.name,
            any_payable: rows.iter().any(|r| r.payable),
            invoices: rows,
            actions,
            publishable_key: s.stripe_public_key.clone().unwrap_or_default(),
            stripe_js,
        })
    })
    .await
}

/// The client secret for the banner's "Complete payment" (Stripe.js authentication).
pub async fn authenticate(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(intent): Path<String>,
) -> Result<Response, PageError> {
    let u = viewer.payer()?.clone();
    viewer.check_csrf_header(&headers)?;
    json_answer(&state, viewer, move |app, viewer| {
        let secret =
            app.authentication_secret(&viewer.tenant, &intent, Initiator::PortalUser(u.id))?;
        Ok(json!({"client_secret": secret}))
    })
    .await
}

/// Pay one invoice or all outstanding ones: go to the page that shows the total and each fee.
pub async fn choose(
    State(state): State<AppState>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, PageError> {
    let u = viewer.payer()?.clone();
    let form = viewer.form(&body)?;
    let choice = form.field("invoice").unwrap_or("").to_string();
    let ids: Vec<i64> = if choice == "all" {
        blocking(&state, move |app| -> Result<Vec<i64>, PageError> {
            let filter = InvoiceFilter {
                customer_id: Some(u.customer_id),
                status: Some(InvoiceStatus::AwaitingPayment),
                due_on_or_before: None,
                recurring_only: false,
                after_id: None,
                limit: 1000,
            };
            Ok(app
                .db()
                .invoices(&viewer.tenant, &filter)?
                .into_iter()
                .filter(|i| crate::access::user_sees(&u, i) && i.amount_due > 0)
                .map(|i| i.id)
                .collect())
        })
        .await?
    } else {
        choice
            .parse()
            .map(|id| vec![id])
            .map_err(|_| PageError::not_found())?
    };
    let csv: Vec<String> = ids.iter().map(ToString::to_string).collect();
    Ok(Redirect::to(&format!("/portal/pay?ids={}", csv.join(","))).into_response())
}

#[derive(Deserialize)]
pub struct Ids {
    #[serde(default)]
    ids: String,
}

fn parse_ids(ids: &str) -> Vec<i64> {
    ids.split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

#[derive(Template)]
#[template(path = "portal_pay.html")]
struct PayPage {
    flash: String,
    csrf: String,
    lines: Vec<(String, String, String, String)>,
    total: String,
    ids: Vec<i64>,
    ids_csv: String,
    saved: String,
    publishable_key: String,
    stripe_js: String,
}

pub async fn pay_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<Ids>,
) -> Result<Response, PageError> {
    let u = viewer.payer()?.clone();
    let ids = parse_ids(&q.ids);
    let stripe_js = state.stripe_js_url.clone();
    finish(&state, viewer, PORTAL, move |app, viewer| {
        Ok(told(
            pay_page_of(app, viewer, &u, ids, stripe_js),
            "Not paid",
            |p| Next::Answer(render(p)),
        ))
    })
    .await
}

/// The page that shows what paying `ids` costs, each invoice's fee and the total.
fn pay_page_of(
    app: &App,
    viewer: &Viewer,
    u: &User,
    ids: Vec<i64>,
    stripe_js: String,
) -> Result<PayPage, PageError> {
    let quote = app.quote_invoices(
        &viewer.tenant,
        &ids,
        PaymentMethodType::Card,
        Initiator::PortalUser(u.id),
    )?;
    let customer = app.db().customer(&viewer.tenant, u.customer_id)?;
    let settings = app.db().tenant(&viewer.tenant)?.settings;
    Ok(PayPage {
        flash: String::new(),
        csrf: viewer.csrf.clone(),
        lines: quote
            .lines
            .iter()
            .map(|l| {
                (
                    l.invoice_number.clone(),
                    money(l.amount_due.amount, &l.amount_due.currency),
                    money(l.fee.amount, &l.fee.currency),
                    money(l.total.amount, &l.total.currency),
                )
            })
            .collect(),
        total: money(quote.total.amount, &quote.total.currency),
        ids_csv: ids
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(","),
        ids,
        saved: customer.stripe_payment_method_name.unwrap_or_default(),
        publishable_key: settings.stripe_public_key.unwrap_or_default(),
        stripe_js,
    })
}

pub async fn pay_saved(
    State(state): State<AppState>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, PageError> {
    let u = viewer.payer()?.clone();
    let form = viewer.form(&body)?;
    let ids: Vec<i64> = form
        .all("invoice")
        .iter()
        .filter_map(|v| v.parse().ok())
        .collect();
    finish(&state, viewer, PORTAL, move |app, viewer| {
        Ok(told(
            payment::start_saved(app, viewer, ids, Initiator::PortalUser(u.id)),
            "Not paid",
            |p| match p.status {
                PaymentStatus::Succeeded => "Thank you: paid.".to_string(),
                PaymentStatus::RequiresAction => {
                    "Your bank asks you to confirm the payment.".to_string()
                }
                PaymentStatus::Processing => "The payment is processing.".to_string(),
                _ => format!(
                    "The payment did not go through: {}",
                    p.failure_reason.unwrap_or_default()
                ),
            },
        ))
    })
    .await
}

pub async fn pay_new(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Query(q): Query<Ids>,
) -> Result<Response, PageError> {
    let u = viewer.payer()?.clone();
    viewer.check_csrf_header(&headers)?;
    let ids = parse_ids(&q.ids);
    payment::start_new_card(&state, viewer, ids, Initiator::PortalUser(u.id)).await
}

#[derive(Template)]
#[template(path = "portal_method.html")]
struct MethodPage {
    flash: String,
    csrf: String,
    publishable_key: String,
    stripe_js: String,
    /// The imported types, comma-separated: with a bank debit among them the page renders Stripe.js's
    /// Payment Element (every imported type, the mandate collected), else the card element.
    method_types: String,
    currency: String,
    payment_element: bool,
}

/// Refused unless the setting offers "Add payment method" to the user's customer: the publishable key.
fn adding_allowed(app: &App, viewer: &Viewer, u: &User) -> Result<String, PageError> {
    let settings = app.db().tenant(&viewer.tenant)?.settings;
    let customer = app.db().customer(&viewer.tenant, u.customer_id)?;
    if !crate::access::may_add_method(settings.show_auto_payment_on_portal, &customer) {
        return Err(PageError::forbidden(
            "Adding a payment method in the portal is not enabled for your organisation.",
        ));
    }
    Ok(settings.stripe_public_key.unwrap_or_default())
}

pub async fn method_page(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Response, PageError> {
    let u = viewer.payer()?.clone();
    let stripe_js = state.stripe_js_url.clone();
    page(&state, move |app| {
        let publishable_key = adding_allowed(app, &viewer, &u)?;
        let settings = app.db().tenant(&viewer.tenant)?.settings;
        let payment_element = settings.stripepaymentmethodoptions.iter().any(|t| {
            vocabulary::PaymentMethodType::from_wire_name(t).is_some_and(|t| t.is_bank_debit())
        });
        Ok(MethodPage {
            flash: String::new(),
            csrf: viewer.csrf.clone(),
            publishable_key,
            stripe_js,
            method_types: settings.stripepaymentmethodoptions.join(","),
            currency: settings.stripe_currency.to_lowercase(),
            payment_element,
        })
    })
    .await
}

pub async fn start_method(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let u = viewer.payer()?.clone();
    viewer.check_csrf_header(&headers)?;
    json_answer(&state, viewer, move |app, viewer| {
        adding_allowed(app, viewer, &u)?;
        let s = app.start_setup(&viewer.tenant, u.customer_id, Initiator::PortalUser(u.id))?;
        Ok(json!({"setup_intent_id": s.setup_intent_id, "client_secret": s.client_secret}))
    })
    .await
}

#[derive(Deserialize)]
pub struct CompleteBody {
    setup_intent_id: String,
}

pub async fn complete_method(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Json(body): Json<CompleteBody>,
) -> Result<Response, PageError> {
    let u = viewer.payer()?.clone();
    viewer.check_csrf_header(&headers)?;
    json_answer(&state, viewer, move |app, viewer| {
        let name = app.complete_setup(&viewer.tenant, u.customer_id, &body.setup_intent_id)?;
        Ok(json!({"automatic_payment_method": name}))
    })
    .await
}

#[derive(Deserialize)]
pub struct ConfirmMethodBody {
    setup_intent_id: String,
    payment_method: String,
}

/// The Payment Element made the payer's method: confirm the SetupIntent with it and, for a bank
/// debit, the mandate the payer accepted with this request (its address and user agent).
pub async fn confirm_method(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    crate::web::client::Acceptance(acceptance): crate::web::client::Acceptance,
    Json(body): Json<ConfirmMethodBody>,
) -> Result<Response, PageError> {
    let u = viewer.payer()?.clone();
    viewer.check_csrf_header(&headers)?;
    json_answer(&state, viewer, move |app, viewer| {
        adding_allowed(app, viewer, &u)?;
        use crate::contract::debits::SetupConfirmed;
        Ok(
            match app.confirm_setup(
                &viewer.tenant,
                u.customer_id,
                &body.setup_intent_id,
                &body.payment_method,
                &acceptance,
                Initiator::PortalUser(u.id),
            )? {
                SetupConfirmed::Saved(name) => {
                    json!({"status": "succeeded", "automatic_payment_method": name})
                }
                SetupConfirmed::RequiresAction(secret) => {
                    json!({"status": "requires_action", "client_secret": secret})
                }
                SetupConfirmed::Processing => json!({"status": "processing"}),
            },
        )
    })
    .await
}

pub async fn stripe_portal(
    State(state): State<AppState>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, PageError> {
    let u = viewer.payer()?.clone();
    viewer.form(&body)?;
    let back = state
        .app
        .public_url
        .clone()
        .map(|b| format!("{}/portal", b.trim_end_matches('/')));
    finish(&state, viewer, PORTAL, move |app, viewer| {
        let back = back.unwrap_or_else(|| "https://example.invalid/portal".into());
        Ok(told(
            app.customer_portal_session(&viewer.tenant, u.customer_id, &back),
            "The Stripe portal is not available",
            |url| Next::Answer(Redirect::to(&url).into_response()),
        ))
    })
    .await
}
