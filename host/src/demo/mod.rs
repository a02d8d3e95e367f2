//! `paydesk demo`: seeds a demo tenant and runs the product's main job against the configured
//! Stripe through the plugin, one printed line per step — connect, receive Stripe's signed
//! webhooks, a customer with a saved card, an agent's payment with its fee line that the webhook
//! marks paid, a recurring invoice charged by the daily run, the confirmation emails in the
//! outbox, `$-PAYMENTMETHOD`, and the sign-in for the pages. With `--serve` it then goes on
//! serving the web app as `paydesk serve` does. Bad input (an unknown currency, an unreachable
//! Stripe, a Stripe that can't send webhooks here) stops it with one line before any record is
//! written.
//!
//! The steps that pay are in `story.rs`; what the demo does at Stripe in the browser's or
//! localstripe's place is in `stripe_side.rs`; the web app it runs is in `server.rs`.

mod server;
mod story;
mod stripe_side;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::Args;

use crate::app::{App, CallError};
use crate::config::Config;
use crate::contract::PaymentMethodType;
use crate::contract::exports::paydesk::stripe::payments::QuoteItem;
use crate::settings::{PortalAccess, TenantSettings};
use crate::tenant::{Secret, StripeAccess, TenantContext, TenantId};

use server::DemoServer;
use stripe_side::StripeSide;

/// Options of `paydesk demo`.
#[derive(Debug, Args, Clone)]
pub struct DemoArgs {
    /// Tenant to seed (created if it does not exist).
    #[arg(long, default_value = "demo")]
    pub tenant: String,
    /// Currency of the demo invoices (ISO 4217).
    #[arg(long, default_value = "usd")]
    pub currency: String,
    /// Processing fee, percent.
    #[arg(long, default_value = "2.9")]
    pub fee: String,
    /// Amount of the invoice the agent takes payment for, in the currency's minor units.
    #[arg(long, default_value_t = 12_345)]
    pub amount: i64,
    /// Monthly amount of the recurring invoice the daily run charges, in minor units.
    #[arg(long, default_value_t = 4_900)]
    pub recurring_amount: i64,
    /// Stripe secret key.
    #[arg(
        long,
        env = "PAYDESK_STRIPE_SECRET_KEY",
        default_value = "sk_test_paydesk_demo_key",
        hide_env_values = true
    )]
    pub secret_key: String,
    /// Stripe publishable key (the default shares nothing with the default secret key's body:
    /// the pages show the publishable key, and must show nothing of the secret one).
    #[arg(
        long,
        env = "PAYDESK_STRIPE_PUBLISHABLE_KEY",
        default_value = "pk_test_paydesk_demo_public"
    )]
    pub publishable_key: String,
    /// Address of the web app that receives Stripe's webhooks during the demo (and serves the
    /// pages with `--serve`); default 127.0.0.1:8080 with `--serve`, else a free loopback port.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// After the story, keep serving the web app (pages, API, webhooks, daily scheduler) on
    /// `--listen` until Ctrl-C, as `paydesk serve` does.
    #[arg(long)]
    pub serve: bool,
}

/// Print step `n`: one line.
fn step(n: u32, what: &str, detail: impl std::fmt::Display) {
    println!("{n:>2}. {what:<10} {detail}");
}

/// One line for a failed plugin call.
fn explain(e: CallError) -> anyhow::Error {
    match &e {
        CallError::Plugin(p) => {
            let request = p
                .stripe
                .as_ref()
                .and_then(|s| s.request_id.as_deref())
                .map(|r| format!(" (Stripe request {r})"))
                .unwrap_or_default();
            anyhow::anyhow!("{}{request}", p.message)
        }
        _ => anyhow::Error::new(e),
    }
}

/// `USD 123.45` — display only; the plugin computed the amounts.
fn show(m: &crate::contract::Money) -> String {
    crate::access::money(m.amount, &m.currency)
}

/// `prefix` and 32 random hex digits.
fn random_token(prefix: &str) -> anyhow::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(format!("{prefix}{}", hex::encode(bytes)))
}

/// The demo tenant's settings: the integration on, with fees, customer sync, automatic payments
/// on the due date, the daily run, "Add payment method" in the portal and confirmation emails.
fn demo_settings(args: &DemoArgs, tenant: &TenantId) -> TenantSettings {
    TenantSettings {
        enabled: true,
        stripe_public_key: Some(args.publishable_key.clone()),
        stripe_currency: args.currency.to_ascii_lowercase(),
        sync_customers_to_stripe: true,
        stripe_processing_fee_percentage: args.fee.clone(),
        enableautostripepayment: true,
        stripetakepaymentonduedate: true,
        halointegrator_stripe: true,
        show_auto_payment_on_portal: PortalAccess::Show,
        stripe_send_recipient_email: true,
        stripenotificationemail: Some(format!("payments@{tenant}.paydesk.test")),
        ..TenantSettings::default()
    }
}

/// How Stripe's webhooks reach the demo's receiver.
enum Webhooks {
    /// localstripe posts them, signed with the secret the demo gave it.
    Localstripe { url: String, secret: Secret },
    /// A public URL forwards to the receiver: the endpoint is made in Stripe
    /// ("Save and Create/Update Webhooks in Stripe"), which keeps the signing secret.
    Endpoint { url: String },
}

pub fn run(config: &Config, args: &DemoArgs) -> anyhow::Result<()> {
    let tenant = TenantId::parse(&args.tenant).map_err(anyhow::Error::msg)?;
    for (flag, amount) in [
        ("--amount", args.amount),
        ("--recurring-amount", args.recurring_amount),
    ] {
        if amount <= 0 {
            bail!("{flag} must be positive minor units, got {amount}");
        }
    }
    let secret = Secret::new(args.secret_key.clone());
    let settings = demo_settings(args, &tenant);
    let app = Arc::new(config.app()?);
    let info = app.runtime.describe();
    step(
        1,
        "plugin",
        format_args!(
            "{}@{}, {} KiB, {:?}",
            info.package,
            info.version,
            info.size.div_ceil(1024),
            app.runtime.loaded_from()
        ),
    );

    check_input(&app, &tenant, &settings, &secret, args.amount)?;
    step(
        2,
        "connect",
        format_args!(
            "Stripe at {} accepts key {}",
            app.stripe_api_base,
            secret.masked()
        ),
    );

    // The receiver is up and Stripe can reach it before anything is written.
    let listen = args.listen.unwrap_or(if args.serve {
        SocketAddr::from(([127, 0, 0, 1], 8080))
    } else {
        SocketAddr::from(([127, 0, 0, 1], 0))
    });
    let server = DemoServer::start(app.clone(), config.stripe_js_url.clone(), listen)?;
    let stripe = StripeSide::new(&app.stripe_api_base, &secret);
    let webhooks = arrange_webhooks(&app, &stripe, &tenant, &server)?;

    let created = seed_tenant(&app, &tenant, &settings, &secret)?;
    step(
        3,
        "tenant",
        format_args!(
            "{tenant} ({created}): currency {}, processing fee {} %, customer sync, automatic \
             payments on the due date, confirmations to {}",
            settings.stripe_currency.to_ascii_uppercase(),
            settings.stripe_processing_fee_percentage,
            settings.stripenotificationemail.as_deref().unwrap_or("")
        ),
    );
    let how = match &webhooks {
        Webhooks::Localstripe { url, secret } => {
            app.db().set_webhook_secret(&tenant, secret)?;
            format!("localstripe signs each event and posts it to {url}")
        }
        Webhooks::Endpoint { url } => {
            let endpoint = app.ensure_webhooks(&tenant, url).map_err(explain)?;
            format!(
                "endpoint {} in Stripe posts signed events to {url}",
                endpoint.id
            )
        }
    };
    step(4, "webhooks", how);

    let story = story::Story {
        app: &app,
        stripe: &stripe,
        tenant: &tenant,
    };
    let outcome = story.run(5, args)?;

    if args.serve {
        let base = server.base_url();
        println!(
            "serving    {base} until Ctrl-C, as `paydesk serve --db {}`:",
            config.db.display()
        );
        println!("    setup page          {base}/app/setup  (the agent)");
        println!(
            "    agent invoice view  {base}/app/invoices/{}  (the agent)",
            outcome.invoice_id
        );
        println!("    portal              {base}/portal  (the portal user)");
        println!("    sign in at          {base}/login");
        server.serve_until_signal(app.clone())
    } else {
        server.stop()?;
        println!(
            "done: tenant {tenant} and its records are in {}",
            config.db.display()
        );
        Ok(())
    }
}

/// Check the input with the plugin before writing anything: the currency and fee by a quote, the
/// key and Stripe's reachability by a real call.
fn check_input(
    app: &App,
    tenant: &TenantId,
    settings: &TenantSettings,
    secret: &Secret,
    amount: i64,
) -> anyhow::Result<()> {
    let existing = app.db().tenant(tenant).ok();
    let probe = TenantContext {
        id: tenant.clone(),
        settings: settings.clone(),
        stripe: StripeAccess {
            api_base: app.stripe_api_base.clone(),
            secret_key: Some(secret.clone()),
        },
        // The tenant may not exist yet (its input is checked before it is made).
        limits: existing.as_ref().map(|t| t.limits).unwrap_or_default(),
        plugin: existing.and_then(|t| t.plugin),
    };
    let item = QuoteItem {
        invoice_id: 0,
        invoice_number: "DEMO".into(),
        currency: settings.stripe_currency.clone(),
        amount_due: amount,
    };
    app.call_in(probe.clone(), "payments.quote", &item, |p, s| {
        p.paydesk_stripe_payments().call_quote(
            s,
            std::slice::from_ref(&item),
            &PaymentMethodType::Card,
        )
    })
    .map_err(explain)
    .context("checking the demo invoice")?;
    app.call_in(probe, "admin.test-connection", &(), |p, s| {
        p.paydesk_stripe_admin().call_test_connection(s)
    })
    .map_err(explain)
    .with_context(|| format!("connecting to Stripe at {}", app.stripe_api_base))?;
    Ok(())
}

/// Where Stripe sends events: through `PAYDESK_PUBLIC_URL` when it is set, else localstripe's
/// registration (a real Stripe can't post to a loopback address).
fn arrange_webhooks(
    app: &App,
    stripe: &StripeSide,
    tenant: &TenantId,
    server: &DemoServer,
) -> anyhow::Result<Webhooks> {
    let path = format!("/webhooks/stripe/{tenant}");
    if let Some(public) = &app.public_url {
        return Ok(Webhooks::Endpoint {
            url: format!("{}{path}", public.trim_end_matches('/')),
        });
    }
    let url = format!("{}{path}", server.base_url());
    let secret = Secret::new(random_token("whsec_")?);
    if !stripe.register_localstripe_webhook(&format!("paydesk-{tenant}"), &url, &secret)? {
        bail!(
            "Stripe at {} can't post webhooks to {url}: set PAYDESK_PUBLIC_URL to a public URL \
             that reaches --listen {} (or run the demo against localstripe)",
            app.stripe_api_base,
            server.addr
        );
    }
    Ok(Webhooks::Localstripe { url, secret })
}

/// Create the tenant when it doesn't exist and save its settings and key; "created" or "existing".
fn seed_tenant(
    app: &App,
    tenant: &TenantId,
    settings: &TenantSettings,
    secret: &Secret,
) -> anyhow::Result<&'static str> {
    let db = app.db();
    let created = match db.tenant(tenant) {
        Ok(_) => "existing",
        Err(crate::db::DbError::NotFound(_)) => {
            db.create_tenant(
                tenant,
                "Demo Helpdesk",
                &format!("invoices@{tenant}.paydesk.test"),
            )?;
            "created"
        }
        Err(e) => return Err(e.into()),
    };
    db.save_settings_and_key(tenant, settings, Some(secret))?;
    Ok(created)
}
