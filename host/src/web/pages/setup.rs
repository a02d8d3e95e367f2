//! `/app/setup`, the Stripe setup page for administrators: every setting with the guide's wording,
//! inline errors, masked secrets, "Save and Create/Update Webhooks in Stripe", test connection; the
//! mappings and the daily run show on it too (`mappings.rs`, `autopay.rs`).

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::error::PageError;
use super::form::Form;
use super::respond::{Flash, Next, finish, page, render, told};
use super::session::Viewer;
use super::words::when;
use crate::app::{App, SaveError, SettingsSave};
use crate::settings::{PortalAccess, TenantSettings};
use crate::tenant::Secret;
use crate::web::state::AppState;
use paydesk_plugin::domain::vocabulary;

/// The setup page, where its forms go back to.
pub(super) const SETUP: &str = "/app/setup";

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
    autopay_cap: String,
    currency: String,
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
pub(super) struct SetupExtras {
    pub flash: String,
    pub errors: Vec<(String, String)>,
    pub settings: Option<TenantSettings>,
    pub report: Vec<String>,
    pub plan: Vec<(String, String, String, String)>,
}

fn setup_page(app: &App, viewer: &Viewer, extras: SetupExtras) -> Result<SetupPage, PageError> {
    let tenant = app.db().tenant(&viewer.tenant)?;
    let s = extras.settings.unwrap_or(tenant.settings);
    let customers = app.db().customers(&viewer.tenant, None, 1000)?;
    // The method types with the guide's names, each ticked when `list` has it.
    let checked = |list: &[String]| {
        vocabulary::PaymentMethodType::ALL
            .iter()
            .map(|t| {
                let name = t.wire_name();
                (name, t.short_label(), list.iter().any(|x| x == name))
            })
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
        autopay_cap: s
            .autopay_max_amount
            .map(|c| c.to_string())
            .unwrap_or_default(),
        currency: s.stripe_currency.to_ascii_uppercase(),
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
        last_run: when(tenant.autopay_last_run, "never"),
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
    viewer.admin()?;
    page(&state, move |app| {
        setup_page(
            app,
            &viewer,
            SetupExtras {
                flash: flash.text(app, &viewer),
                ..Default::default()
            },
        )
    })
    .await
}

/// The settings a setup form describes (checkboxes absent = off), and the form's own errors.
fn settings_from_form(
    stored: &TenantSettings,
    form: &Form,
) -> (TenantSettings, Vec<(String, String)>) {
    let mut s = stored.clone();
    let mut errors = Vec::new();
    let on = |name: &str| form.on(name);
    let text = |name: &str| form.text(name);
    let list = |name: &str| form.all(name);
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
    s.autopay_max_amount = match text("autopay_max_amount").map(|v| v.parse::<i64>()) {
        None => None,
        Some(Ok(v)) => Some(v),
        Some(Err(_)) => {
            errors.push((
                "autopay_max_amount".into(),
                "a whole number of minor units, or empty for no cap".into(),
            ));
            stored.autopay_max_amount
        }
    };
    s.enableautostripepayment = on("enableautostripepayment");
    s.stripetakepaymentonduedate = form.field("stripetakepaymentonduedate") != Some("creation");
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
    s.show_auto_payment_on_portal = match form.field("show_auto_payment_on_portal") {
        Some("show") => PortalAccess::Show,
        Some("only_if_set") => PortalAccess::OnlyIfSet,
        _ => PortalAccess::Hide,
    };
    s.stripe_customer_portal_enabled = on("stripe_customer_portal_enabled");
    s.portal_base_url = text("portal_base_url");
    s.stripe_send_recipient_email = on("stripe_send_recipient_email");
    s.use_stripe_receipt_emails = on("use_stripe_receipt_emails");
    s.stripe_refund_processing_fee = on("stripe_refund_processing_fee");
    s.stripenotificationemail = text("stripenotificationemail");
    (s, errors)
}

pub async fn save_setup(
    State(state): State<AppState>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, PageError> {
    viewer.admin()?;
    let form = viewer.form(&body)?;
    let webhooks = form.field("action") == Some("webhooks");
    finish(&state, viewer, SETUP, move |app, viewer| {
        let stored = app.db().tenant(&viewer.tenant)?.settings;
        let (settings, mut errors) = settings_from_form(&stored, &form);
        let secret_key = form
            .field("stripe_secret_key")
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
                viewer,
                SetupExtras {
                    errors,
                    settings: Some(settings),
                    ..Default::default()
                },
            )?;
            return Ok(Next::Answer(
                (StatusCode::UNPROCESSABLE_ENTITY, render(page)).into_response(),
            ));
        }
        if !webhooks {
            return Ok("Settings saved.".into());
        }
        let Some(base) = app.public_url.clone() else {
            return Ok(
                "Settings saved. Webhooks need the server's public URL (PAYDESK_PUBLIC_URL)."
                    .into(),
            );
        };
        let url = format!(
            "{}/webhooks/stripe/{}",
            base.trim_end_matches('/'),
            viewer.tenant
        );
        Ok(told(
            app.ensure_webhooks(&viewer.tenant, &url),
            "Settings saved, but the webhook endpoint failed",
            |e| {
                format!(
                    "Settings saved. Webhook endpoint {} sends the five payment events to {url}.",
                    e.id
                )
            },
        ))
    })
    .await
}

pub async fn test_connection(
    State(state): State<AppState>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, PageError> {
    viewer.admin()?;
    viewer.form(&body)?;
    finish(&state, viewer, SETUP, |app, viewer| {
        Ok(told(
            app.test_connection(&viewer.tenant, None),
            "Stripe connection failed",
            |s| {
                if s.livemode {
                    "Connected to Stripe (live mode)."
                } else {
                    "Connected to Stripe (test mode)."
                }
            },
        ))
    })
    .await
}

/// The setup page again after a form on it, showing what the form did: `work` runs off the async
/// threads and returns what the page shows besides the stored state (the message, a report, a
/// plan).
pub(super) async fn setup_again(
    state: &AppState,
    viewer: Viewer,
    work: impl FnOnce(&App, &Viewer) -> Result<SetupExtras, PageError> + Send + 'static,
) -> Result<Response, PageError> {
    finish(state, viewer, SETUP, |app, viewer| {
        let extras = work(app, viewer)?;
        Ok(Next::Answer(render(setup_page(app, viewer, extras)?)))
    })
    .await
}
