//! The agent side: invoices, the Stripe setup page (every setting with the guide's wording, inline
//! errors, masked secrets, test connection, mappings and "Generate mappings", webhooks, the daily
//! run with a dry-run preview), a customer's Billing › Stripe section, an invoice with "Receive
//! Payment (Manual)" for agents with the permission. People are in `people.rs`.

use askama::Template;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{Flash, PageError, Viewer, blocking, field, form_pairs, money, redirect_with, render};
use crate::app::{App, SaveError, SettingsSave};
use crate::db::{Principal, invoice_status_name, payment_status_name};
use crate::runtime::bindings::exports::paydesk::stripe::payments::{PayWith, PaymentRequest};
use crate::runtime::bindings::{Agent, Initiator, InvoiceFilter, PaymentFilter, PaymentMethodType};
use crate::settings::{PortalAccess, TenantSettings};
use crate::tenant::{Secret, TenantId};
use crate::web::AppState;

/// The method types with the guide's names.
const TYPES: [(&str, &str); 7] = [
    ("card", "Card"),
    ("us_bank_account", "US bank account"),
    ("acss_debit", "ACSS debit"),
    ("sepa_debit", "SEPA Debit"),
    ("bacs_debit", "Bacs Direct Debit"),
    ("au_becs_debit", "BECS Direct Debit"),
    ("link", "Link"),
];

fn agent(viewer: &Viewer) -> Result<&Agent, PageError> {
    match &viewer.principal {
        Principal::Agent(a) => Ok(a),
        Principal::User(_) => Err(PageError::forbidden("This page is for agents.")),
    }
}

pub(super) fn admin(viewer: &Viewer) -> Result<&Agent, PageError> {
    let a = agent(viewer)?;
    if a.is_admin {
        Ok(a)
    } else {
        Err(PageError::forbidden(
            "Only administrators can change the Stripe integration.",
        ))
    }
}

pub struct InvoiceRow {
    pub id: i64,
    pub number: String,
    pub customer_id: i64,
    pub customer: String,
    pub due_date: String,
    pub amount_due: String,
    pub status: &'static str,
    pub status_label: &'static str,
}

pub fn status_label(status: &str) -> &'static str {
    match status {
        "paid" => "Paid",
        "void" => "Void",
        _ => "Awaiting payment",
    }
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    flash: String,
    csrf: String,
    is_admin: bool,
    invoices: Vec<InvoiceRow>,
    customers: Vec<(i64, String)>,
}

pub async fn dashboard(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(flash): Query<Flash>,
) -> Result<Response, PageError> {
    agent(&viewer)?;
    let tenant = viewer.tenant.clone();
    let v = viewer.clone();
    let (invoices, customers, flash) = blocking(&state, move |app| {
        let flash = flash.text(app, &v);
        let customers = app.db().customers(&tenant, None, 1000)?;
        let name = |id: i64| {
            customers
                .iter()
                .find(|c| c.id == id)
                .map(|c| c.name.clone())
                .unwrap_or_default()
        };
        let filter = InvoiceFilter {
            customer_id: None,
            status: None,
            due_on_or_before: None,
            recurring_only: false,
            after_id: None,
            limit: 1000,
        };
        let invoices = app
            .db()
            .invoices(&tenant, &filter)?
            .into_iter()
            .map(|i| InvoiceRow {
                id: i.id,
                customer: name(i.customer_id),
                customer_id: i.customer_id,
                number: i.number,
                due_date: i.due_date,
                amount_due: money(i.amount_due, &i.currency),
                status: invoice_status_name(i.status),
                status_label: status_label(invoice_status_name(i.status)),
            })
            .collect();
        Ok((
            invoices,
            customers.into_iter().map(|c| (c.id, c.name)).collect(),
            flash,
        ))
    })
    .await?;
    Ok(render(Dashboard {
        flash,
        csrf: viewer.csrf.clone(),
        is_admin: viewer.is_admin(),
        invoices,
        customers,
    }))
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    flash: String,
    csrf: String,
    is_admin: bool,
    errors: Vec<(String, String)>,
    s: TenantSettings,
    public_key: String,
    secret_masked: String,
    webhook_masked: String,
    endpoint: String,
    fee_cap: String,
    portal_access: &'static str,
    portal_url: String,
    notify: String,
    types: Vec<(&'static str, &'static str, bool)>,
    manual_types: Vec<(&'static str, &'static str, bool)>,
    mappings: Vec<(i64, String, String)>,
    unmapped: Vec<(i64, String)>,
    report: Vec<String>,
    last_run: String,
    last_error: String,
    plan: Vec<(String, String, String, String)>,
}

/// What a setup page shows besides the stored state.
#[derive(Default)]
struct SetupExtras {
    flash: String,
    errors: Vec<(String, String)>,
    settings: Option<TenantSettings>,
    report: Vec<String>,
    plan: Vec<(String, String, String, String)>,
}

fn setup_page(app: &App, viewer: &Viewer, extras: SetupExtras) -> Result<SetupPage, PageError> {
    let tenant = app.db().tenant(&viewer.tenant)?;
    let s = extras.settings.unwrap_or(tenant.settings);
    let customers = app.db().customers(&viewer.tenant, None, 1000)?;
    let checked = |list: &[String]| {
        TYPES
            .iter()
            .map(|(v, l)| (*v, *l, list.iter().any(|x| x == v)))
            .collect()
    };
    Ok(SetupPage {
        flash: extras.flash,
        csrf: viewer.csrf.clone(),
        is_admin: true,
        errors: extras.errors,
        public_key: s.stripe_public_key.clone().unwrap_or_default(),
        secret_masked: app
            .db()
            .secret_key(&viewer.tenant)?
            .map(|k| k.masked())
            .unwrap_or_else(|| "none".into()),
        webhook_masked: app
            .db()
            .webhook_secret(&viewer.tenant)?
            .map(|k| k.masked())
            .unwrap_or_else(|| "none".into()),
        endpoint: s.stripe_webhook_endpoint_id.clone().unwrap_or_default(),
        fee_cap: s.stripe_fee_cap.map(|c| c.to_string()).unwrap_or_default(),
        portal_access: match s.show_auto_payment_on_portal {
            PortalAccess::Hide => "hide",
            PortalAccess::OnlyIfSet => "only_if_set",
            PortalAccess::Show => "show",
        },
        portal_url: s.portal_base_url.clone().unwrap_or_default(),
        notify: s.stripenotificationemail.clone().unwrap_or_default(),
        types: checked(&s.stripepaymentmethodoptions),
        manual_types: checked(&s.stripemanualpaymentmethodoptions),
        mappings: customers
            .iter()
            .filter_map(|c| Some((c.id, c.name.clone(), c.stripe_customer_id.clone()?)))
            .collect(),
        unmapped: customers
            .iter()
            .filter(|c| c.stripe_customer_id.is_none())
            .map(|c| (c.id, c.name.clone()))
            .collect(),
        report: extras.report,
        last_run: tenant
            .autopay_last_run
            .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| "never".into()),
        last_error: tenant.autopay_last_error.unwrap_or_else(|| "none".into()),
        plan: extras.plan,
        s,
    })
}

pub async fn setup(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(flash): Query<Flash>,
) -> Result<Response, PageError> {
    admin(&viewer)?;
    let page = blocking(&state, move |app| {
        setup_page(
            app,
            &viewer,
            SetupExtras {
                flash: flash.text(app, &viewer),
                ..Default::default()
            },
        )
    })
    .await?;
    Ok(render(page))
}

/// The settings a setup form describes (checkboxes absent = off), and the form's own errors.
fn settings_from_form(
    stored: &TenantSettings,
    pairs: &[(String, String)],
) -> (TenantSettings, Vec<(String, String)>) {
    let mut s = stored.clone();
    let mut errors = Vec::new();
    let on = |name: &str| field(pairs, name).is_some();
    let text = |name: &str| {
        field(pairs, name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let list = |name: &str| {
        pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
    };
    s.enabled = on("enabled");
    s.stripe_public_key = text("stripe_public_key");
    s.stripe_currency = text("stripe_currency")
        .unwrap_or_default()
        .to_ascii_lowercase();
    s.time_zone = text("time_zone").unwrap_or_else(|| "UTC".into());
    s.sync_customers_to_stripe = on("sync_customers_to_stripe");
    s.stripepaymentmethodoptions = list("stripepaymentmethodoptions");
    s.stripemanualpaymentmethodoptions = list("stripemanualpaymentmethodoptions");
    s.stripe_processing_fee_percentage =
        text("stripe_processing_fee_percentage").unwrap_or_else(|| "0".into());
    s.stripe_fee_cap = match text("stripe_fee_cap").map(|v| v.parse::<i64>()) {
        None => None,
        Some(Ok(v)) => Some(v),
        Some(Err(_)) => {
            errors.push((
                "stripe_fee_cap".into(),
                "a whole number of minor units, or empty".into(),
            ));
            stored.stripe_fee_cap
        }
    };
    s.enableautostripepayment = on("enableautostripepayment");
    s.stripetakepaymentonduedate = field(pairs, "stripetakepaymentonduedate") != Some("creation");
    s.halointegrator_stripe = on("halointegrator_stripe");
    for (name, slot) in [
        ("autopay_max_attempts", &mut s.autopay_max_attempts),
        (
            "autopay_retry_interval_days",
            &mut s.autopay_retry_interval_days,
        ),
    ] {
        match text(name).map(|v| v.parse::<u32>()) {
            Some(Ok(v)) => *slot = v,
            Some(Err(_)) | None => errors.push((name.to_string(), "a whole number".into())),
        }
    }
    s.show_auto_payment_on_portal = match field(pairs, "show_auto_payment_on_portal") {
        Some("show") => PortalAccess::Show,
        Some("only_if_set") => PortalAccess::OnlyIfSet,
        _ => PortalAccess::Hide,
    };
    s.stripe_customer_portal_enabled = on("stripe_customer_portal_enabled");
    s.portal_base_url = text("portal_base_url");
    s.stripe_send_recipient_email = on("stripe_send_recipient_email");
    s.use_stripe_receipt_emails = on("use_stripe_receipt_emails");
    s.stripenotificationemail = text("stripenotificationemail");
    (s, errors)
}

pub async fn save_setup(
    State(state): State<AppState>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, PageError> {
    admin(&viewer)?;
    let pairs = form_pairs(&body);
    viewer.check_csrf(field(&pairs, "csrf").unwrap_or(""))?;
    let webhooks = field(&pairs, "action") == Some("webhooks");
    blocking(&state, move |app| {
        let stored = app.db().tenant(&viewer.tenant)?.settings;
        let (settings, mut errors) = settings_from_form(&stored, &pairs);
        let secret_key = field(&pairs, "stripe_secret_key")
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(Secret::new);
        if errors.is_empty() {
            match app.save_settings(
                &viewer.tenant,
                SettingsSave {
                    settings: settings.clone(),
                    secret_key,
                },
            ) {
                Ok(()) => {}
                Err(SaveError::Invalid(fields)) => {
                    errors.extend(fields.into_iter().map(|f| (f.field, f.message)))
                }
                Err(SaveError::Call(e)) => {
                    errors.push(("stripe".into(), PageError::from(e).message))
                }
            }
        }
        if !errors.is_empty() {
            let page = setup_page(
                app,
                &viewer,
                SetupExtras {
                    errors,
                    settings: Some(settings),
                    ..Default::default()
                },
            )?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, super::render(page)).into_response());
        }
        if !webhooks {
            return Ok(redirect_with(app, &viewer, "/app/setup", "Settings saved."));
        }
        let Some(base) = app.public_url.clone() else {
            return Ok(redirect_with(
                app,
                &viewer,
                "/app/setup",
                "Settings saved. Webhooks need the server's public URL (PAYDESK_PUBLIC_URL).",
            ));
        };
        let url = format!(
            "{}/webhooks/stripe/{}",
            base.trim_end_matches('/'),
            viewer.tenant
        );
        Ok(match app.ensure_webhooks(&viewer.tenant, &url) {
            Ok(e) => redirect_with(
                app,
                &viewer,
                "/app/setup",
                &format!(
                    "Settings saved. Webhook endpoint {} sends the five payment events to {url}.",
                    e.id
                ),
            ),
            Err(e) => redirect_with(
                app,
                &viewer,
                "/app/setup",
                &format!(
                    "Settings saved, but the webhook endpoint failed: {}",
                    PageError::from(e).message
                ),
            ),
        })
    })
    .await
}

pub async fn test_connection(
    State(state): State<AppState>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, PageError> {
    admin(&viewer)?;
    viewer.check_csrf(field(&form_pairs(&body), "csrf").unwrap_or(""))?;
    blocking(&state, move |app| {
        Ok(match app.test_connection(&viewer.tenant, None) {
            Ok(s) => redirect_with(
                app,
                &viewer,
                "/app/setup",
                if s.livemode {
                    "Connected to Stripe (live mode)."
                } else {
                    "Connected to Stripe (test mode)."
                },
            ),
            Err(e) => redirect_with(
                app,
                &viewer,
                "/app/setup",
                &format!("Stripe connection failed: {}", PageError::from(e).message),
            ),
        })
    })
    .await
}

pub async fn add_mapping(
    State(state): State<AppState>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, PageError> {
    admin(&viewer)?;
    let pairs = form_pairs(&body);
    viewer.check_csrf(field(&pairs, "csrf").unwrap_or(""))?;
    let customer: i64 = field(&pairs, "customer_id")
        .and_then(|v| v.parse().ok())
        .ok_or_else(PageError::not_found)?;
    let stripe_id = field(&pairs, "stripe_customer_id")
        .unwrap_or("")
        .trim()
        .to_string();
    blocking(&state, move |app| {
        Ok(
            match app.add_mapping(&viewer.tenant, customer, &stripe_id) {
                Ok(()) => redirect_with(app, &viewer, "/app/setup", "Mapping added."),
                Err(e) => redirect_with(
                    app,
                    &viewer,
                    "/app/setup",
                    &format!("Mapping not added: {}", PageError::from(e).message),
                ),
            },
        )
    })
    .await
}

pub async fn remove_mapping(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, PageError> {
    admin(&viewer)?;
    viewer.check_csrf(field(&form_pairs(&body), "csrf").unwrap_or(""))?;
    blocking(&state, move |app| {
        app.remove_mapping(&viewer.tenant, id)?;
        Ok(redirect_with(
            app,
            &viewer,
            "/app/setup",
            "Mapping removed.",
        ))
    })
    .await
}

pub async fn generate_mappings(
    State(state): State<AppState>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, PageError> {
    admin(&viewer)?;
    viewer.check_csrf(field(&form_pairs(&body), "csrf").unwrap_or(""))?;
    blocking(&state, move |app| {
        let r = app.generate_mappings(&viewer.tenant)?;
        let mut report: Vec<String> = r
            .mapped
            .iter()
            .map(|m| format!("Mapped {} to {}", m.customer_name, m.stripe_customer_id))
            .collect();
        use crate::runtime::bindings::exports::paydesk::stripe::admin::SkipReason;
        report.extend(r.skipped.iter().map(|s| {
            let why = match s.reason {
                SkipReason::NoMatch => "no Stripe customer has exactly this name".to_string(),
                SkipReason::SeveralInStripe => format!(
                    "several Stripe customers have this name ({})",
                    s.stripe_customer_ids.join(", ")
                ),
                SkipReason::SeveralInHelpdesk => {
                    "several customers here have this name".to_string()
                }
                SkipReason::StripeCustomerTaken => {
                    "the Stripe customer is mapped to someone else".to_string()
                }
            };
            format!("Skipped {}: {why}", s.customer_name)
        }));
        let flash = format!(
            "{} mapped, {} skipped, {} already mapped; {} Stripe customers read.",
            r.mapped.len(),
            r.skipped.len(),
            r.already_mapped,
            r.stripe_customers_seen
        );
        Ok(render(setup_page(
            app,
            &viewer,
            SetupExtras {
                flash,
                report,
                ..Default::default()
            },
        )?))
    })
    .await
}

pub async fn autopay(
    State(state): State<AppState>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, PageError> {
    admin(&viewer)?;
    let pairs = form_pairs(&body);
    viewer.check_csrf(field(&pairs, "csrf").unwrap_or(""))?;
    let dry = field(&pairs, "mode") != Some("run");
    blocking(&state, move |app| {
        let report = app.run_autopay(&viewer.tenant, None, dry, &mut |_, _| {})?;
        let plan = report
            .plan
            .iter()
            .map(|d| {
                (
                    d.invoice_number.clone(),
                    if d.charge {
                        format!("charge (attempt {})", d.attempt)
                    } else {
                        "skip".into()
                    },
                    d.amount
                        .as_ref()
                        .map(|m| money(m.amount, &m.currency))
                        .unwrap_or_default(),
                    d.reason.clone(),
                )
            })
            .collect();
        let flash = if dry {
            format!("Dry run for {}: nothing was charged.", report.date)
        } else {
            let charged = report.results.iter().filter(|r| r.status.is_some()).count();
            format!(
                "Ran for {}: {charged} charge(s); {} error(s).",
                report.date,
                report.errors.len()
            )
        };
        Ok(render(setup_page(
            app,
            &viewer,
            SetupExtras {
                flash,
                plan: if dry { plan } else { Vec::new() },
                ..Default::default()
            },
        )?))
    })
    .await
}

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
}

pub async fn customer(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Query(flash): Query<Flash>,
) -> Result<Response, PageError> {
    agent(&viewer)?;
    let page = blocking(&state, move |app| {
        let c = app.db().customer(&viewer.tenant, id)?;
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
        })
    })
    .await?;
    Ok(render(page))
}

pub async fn set_automatic_method(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, PageError> {
    agent(&viewer)?;
    let pairs = form_pairs(&body);
    viewer.check_csrf(field(&pairs, "csrf").unwrap_or(""))?;
    let pm = field(&pairs, "payment_method_id")
        .map(str::to_string)
        .filter(|p| !p.is_empty());
    blocking(&state, move |app| {
        let path = format!("/app/customers/{id}");
        Ok(
            match app.set_automatic_payment_method(&viewer.tenant, id, pm.as_deref()) {
                Ok(Some(name)) => redirect_with(
                    app,
                    &viewer,
                    &path,
                    &format!("Automatic payments now use {name}."),
                ),
                Ok(None) => redirect_with(
                    app,
                    &viewer,
                    &path,
                    "The automatic payment method was cleared.",
                ),
                Err(e) => redirect_with(
                    app,
                    &viewer,
                    &path,
                    &format!("Not changed: {}", PageError::from(e).message),
                ),
            },
        )
    })
    .await
}

#[derive(Template)]
#[template(path = "invoice.html")]
struct InvoicePage {
    flash: String,
    csrf: String,
    is_admin: bool,
    id: i64,
    number: String,
    customer_id: i64,
    customer: String,
    issue_date: String,
    due_date: String,
    status: &'static str,
    status_label: &'static str,
    lines: Vec<(String, String, bool)>,
    amount_due: String,
    payments: Vec<(String, &'static str, String, String, String, String, String)>,
    /// Intents Stripe reported that were not applied (when first seen, why).
    anomalies: Vec<(String, String)>,
    /// The payment emails: (outcome, recipients, outbox status, why it failed).
    emails: Vec<(String, String, String, String)>,
    can_pay: bool,
    /// Why a payment of it would be refused now (empty: it can be paid).
    refused: String,
    saved: String,
    total: String,
    publishable_key: String,
    stripe_js: String,
}

/// The outbox rows of the emails about `payments` (keyed `payment/{intent or group}/{outcome}`):
/// what was sent, and what could not be, with the reason.
fn payment_emails(
    app: &crate::app::App,
    tenant: &crate::tenant::TenantId,
    payments: &[crate::runtime::bindings::InvoicePayment],
) -> Result<Vec<(String, String, String, String)>, PageError> {
    let mut keys: Vec<&str> = payments
        .iter()
        .flat_map(|p| [p.intent_id.as_deref(), Some(p.group_id.as_str())])
        .flatten()
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let mut rows = Vec::new();
    for key in keys {
        let prefix = format!("payment/{key}/");
        for m in app.db().emails_with_key_prefix(tenant, &prefix)? {
            let outcome = m
                .dedup_key
                .as_deref()
                .and_then(|k| k.strip_prefix(&prefix))
                .unwrap_or_default()
                .replace('_', " ");
            let recipients = m.to.iter().chain(&m.cc).cloned().collect::<Vec<_>>();
            rows.push((
                outcome,
                recipients.join(", "),
                m.status,
                m.last_error.unwrap_or_default(),
            ));
        }
    }
    Ok(rows)
}

/// Who started a payment, for people.
fn started_by(i: &Initiator) -> String {
    match i {
        Initiator::Agent(id) => format!("agent #{id}"),
        Initiator::PortalUser(id) => format!("portal user #{id}"),
        Initiator::Autopay => "automatic payment".into(),
    }
}

pub async fn invoice(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Query(flash): Query<Flash>,
) -> Result<Response, PageError> {
    let a = agent(&viewer)?.clone();
    let stripe_js = state.stripe_js_url.clone();
    let page = blocking(&state, move |app| {
        let i = app.db().invoice(&viewer.tenant, id)?;
        let c = app.db().customer(&viewer.tenant, i.customer_id)?;
        let settings = app.db().tenant(&viewer.tenant)?.settings;
        let payments = app
            .db()
            .payments(&viewer.tenant, &PaymentFilter::Invoice(id))?;
        let emails = payment_emails(app, &viewer.tenant, &payments)?;
        let anomalies = app
            .db()
            .anomalies(&viewer.tenant, id)?
            .into_iter()
            .map(|a| {
                (
                    chrono::DateTime::from_timestamp(a.at, 0)
                        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_default(),
                    a.reason,
                )
            })
            .collect();
        let payable = i.status == crate::runtime::bindings::InvoiceStatus::AwaitingPayment
            && i.amount_due > 0;
        let can_pay = a.can_receive_manual_stripe_payments
            && payable
            && c.stripe_customer_id.is_some()
            && settings.enabled;
        // The charge as paying would price it; when it would be refused (Stripe's amount limits,
        // a payment in progress) the page says why instead of offering a payment that cannot go.
        let (total, refused) = if can_pay {
            match app.quote_invoices(
                &viewer.tenant,
                &[id],
                PaymentMethodType::Card,
                Initiator::Agent(a.id),
            ) {
                Ok(q) => (money(q.total.amount, &q.total.currency), String::new()),
                Err(e) => (String::new(), PageError::from(e).message),
            }
        } else {
            (String::new(), String::new())
        };
        Ok(InvoicePage {
            flash: flash.text(app, &viewer),
            csrf: viewer.csrf.clone(),
            is_admin: viewer.is_admin(),
            id,
            customer_id: c.id,
            customer: c.name,
            issue_date: i.issue_date.clone(),
            due_date: i.due_date.clone(),
            status: invoice_status_name(i.status),
            status_label: status_label(invoice_status_name(i.status)),
            lines: i
                .lines
                .iter()
                .map(|l| {
                    (
                        l.description.clone(),
                        money(l.amount, &i.currency),
                        l.is_processing_fee,
                    )
                })
                .collect(),
            amount_due: money(i.amount_due, &i.currency),
            payments: payments
                .iter()
                .map(|p| {
                    (
                        chrono::DateTime::from_timestamp(p.created_at, 0)
                            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                            .unwrap_or_default(),
                        payment_status_name(p.status),
                        p.method.clone().unwrap_or_default(),
                        money(p.amount.amount, &p.amount.currency),
                        money(p.fee.amount, &p.fee.currency),
                        started_by(&p.initiator),
                        p.failure_reason.clone().unwrap_or_default(),
                    )
                })
                .collect(),
            anomalies,
            emails,
            can_pay,
            refused,
            saved: c.stripe_payment_method_name.unwrap_or_default(),
            total,
            publishable_key: settings.stripe_public_key.unwrap_or_default(),
            stripe_js,
            number: i.number,
        })
    })
    .await?;
    Ok(render(page))
}

pub async fn pay_saved(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, PageError> {
    let a = agent(&viewer)?.clone();
    viewer.check_csrf(field(&form_pairs(&body), "csrf").unwrap_or(""))?;
    blocking(&state, move |app| {
        let request = PaymentRequest {
            invoices: vec![id],
            pay_with: PayWith::SavedMethod,
            initiator: Initiator::Agent(a.id),
            return_url: None,
        };
        let path = format!("/app/invoices/{id}");
        Ok(match app.start_payment(&viewer.tenant, &request) {
            Ok(p) => redirect_with(
                app,
                &viewer,
                &path,
                &format!(
                    "Payment {}: {}.",
                    p.intent_id,
                    payment_status_name(p.status).replace('_', " ")
                ),
            ),
            Err(e) => redirect_with(
                app,
                &viewer,
                &path,
                &format!("Not charged: {}", PageError::from(e).message),
            ),
        })
    })
    .await
}

/// Start a new-card payment for the agent's form: the payment and a SetupIntent for the card.
pub async fn pay_new(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let a = agent(&viewer)?.clone();
    viewer.check_csrf_header(&headers)?;
    json_result(
        blocking(&state, move |app| {
            start_new_card(app, &viewer.tenant, vec![id], Initiator::Agent(a.id))
        })
        .await,
    )
}

/// Start a payment to be paid with a new card, and the SetupIntent the card is entered into.
pub fn start_new_card(
    app: &App,
    tenant: &TenantId,
    invoices: Vec<i64>,
    initiator: Initiator,
) -> Result<serde_json::Value, PageError> {
    let customer = invoices
        .first()
        .map(|i| app.db().invoice(tenant, *i).map(|i| i.customer_id))
        .transpose()?
        .ok_or_else(PageError::not_found)?;
    let request = PaymentRequest {
        invoices,
        pay_with: PayWith::NewDetails(vec![PaymentMethodType::Card]),
        initiator,
        return_url: None,
    };
    let started = app.start_payment(tenant, &request)?;
    let setup = app.start_setup(tenant, customer, initiator)?;
    Ok(
        json!({"intent_id": started.intent_id, "setup_client_secret": setup.client_secret, "amount": started.amount.amount}),
    )
}

/// A JSON answer for page scripts.
pub fn json_result(r: Result<serde_json::Value, PageError>) -> Result<Response, PageError> {
    Ok(match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => (e.status, Json(json!({"error": {"message": e.message}}))).into_response(),
    })
}
