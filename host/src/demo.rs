//! `paydesk demo`: seeds a demo tenant and runs the story against the configured Stripe through the
//! plugin — connect, create a customer in Stripe, quote an invoice's processing fee — printing each
//! step. Bad input (an unknown currency, an unreachable Stripe) stops it with one line before any
//! record is written.

use anyhow::{Context as _, bail};
use clap::Args;

use crate::app::CallError;
use crate::cli::Config;
use crate::db::{NewCustomer, NewInvoice};
use crate::runtime::bindings::PaymentMethodType;
use crate::runtime::bindings::exports::paydesk::stripe::{
    events::SyncOutcome, payments::QuoteItem,
};
use crate::settings::TenantSettings;
use crate::tenant::{Secret, StripeAccess, TenantContext, TenantId};

/// Options of `paydesk demo`.
#[derive(Debug, Args, Clone)]
pub struct DemoArgs {
    /// Tenant to seed (created if it does not exist).
    #[arg(long, default_value = "demo")]
    pub tenant: String,
    /// Currency of the demo invoice (ISO 4217).
    #[arg(long, default_value = "usd")]
    pub currency: String,
    /// Processing fee, percent.
    #[arg(long, default_value = "2.9")]
    pub fee: String,
    /// Invoice amount in the currency's minor units.
    #[arg(long, default_value_t = 12_345)]
    pub amount: i64,
    /// Stripe secret key.
    #[arg(
        long,
        env = "PAYDESK_STRIPE_SECRET_KEY",
        default_value = "sk_test_paydesk_demo_key",
        hide_env_values = true
    )]
    pub secret_key: String,
    /// Stripe publishable key.
    #[arg(
        long,
        env = "PAYDESK_STRIPE_PUBLISHABLE_KEY",
        default_value = "pk_test_paydesk_demo_key"
    )]
    pub publishable_key: String,
}

fn step(n: u32, what: &str, detail: impl std::fmt::Display) {
    println!("{n}. {what:<10} {detail}");
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

pub fn run(config: &Config, args: &DemoArgs) -> anyhow::Result<()> {
    let tenant = TenantId::parse(&args.tenant).map_err(anyhow::Error::msg)?;
    if args.amount <= 0 {
        bail!("--amount must be positive minor units, got {}", args.amount);
    }
    let secret = Secret::new(args.secret_key.clone());
    let settings = TenantSettings {
        enabled: true,
        stripe_public_key: Some(args.publishable_key.clone()),
        stripe_currency: args.currency.to_ascii_lowercase(),
        sync_customers_to_stripe: true,
        stripe_processing_fee_percentage: args.fee.clone(),
        ..TenantSettings::default()
    };
    let app = config.app()?;
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

    // Check the input with the plugin before writing anything: the currency and fee by a quote,
    // the key and Stripe's reachability by a real call.
    let probe = TenantContext {
        id: tenant.clone(),
        settings: settings.clone(),
        stripe: StripeAccess {
            api_base: app.stripe_api_base.clone(),
            secret_key: Some(secret.clone()),
        },
    };
    let item = QuoteItem {
        invoice_id: 0,
        invoice_number: "DEMO".into(),
        currency: settings.stripe_currency.clone(),
        amount_due: args.amount,
    };
    app.call_in(probe.clone(), |p, s| {
        p.paydesk_stripe_payments().call_quote(
            s,
            std::slice::from_ref(&item),
            PaymentMethodType::Card,
        )
    })
    .map_err(explain)
    .context("checking the demo invoice")?;
    app.call_in(probe, |p, s| {
        p.paydesk_stripe_admin().call_test_connection(s)
    })
    .map_err(explain)
    .with_context(|| format!("connecting to Stripe at {}", app.stripe_api_base))?;
    step(
        2,
        "connect",
        format_args!(
            "Stripe at {} accepts key {}",
            app.stripe_api_base,
            secret.masked()
        ),
    );

    let db = app.db();
    let created = match db.tenant(&tenant) {
        Ok(_) => "existing",
        Err(crate::db::DbError::NotFound(_)) => {
            db.create_tenant(&tenant, "Demo Helpdesk", "invoices@demo.paydesk.test")?;
            "created"
        }
        Err(e) => return Err(e.into()),
    };
    db.save_settings_and_key(&tenant, &settings, Some(&secret))?;
    step(
        3,
        "tenant",
        format_args!(
            "{tenant} ({created}): currency {}, processing fee {} %, customer sync on",
            settings.stripe_currency.to_ascii_uppercase(),
            settings.stripe_processing_fee_percentage
        ),
    );

    let stamp = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S");
    let customer = db.create_customer(
        &tenant,
        &NewCustomer {
            name: format!("Demo Customer {stamp}"),
            accounts_email: Some("accounts@customer.paydesk.test".into()),
            accounts_cc_email: None,
        },
    )?;
    let stripe_id = match app.customer_saved(&tenant, customer.id).map_err(explain)? {
        SyncOutcome::Created(id) | SyncOutcome::Updated(id) => id,
        SyncOutcome::Disabled => bail!("customer sync is off for tenant {tenant}"),
    };
    step(
        4,
        "customer",
        format_args!(
            "\"{}\" (#{}) → Stripe customer {stripe_id}",
            customer.name, customer.id
        ),
    );

    let today = chrono::Utc::now().date_naive();
    let number = format!("DEMO-{}-{}", customer.id, today.format("%Y%m%d"));
    let invoice = db.create_invoice(
        &tenant,
        &NewInvoice {
            number: number.clone(),
            customer_id: customer.id,
            user_id: None,
            currency: settings.stripe_currency.clone(),
            issue_date: today.to_string(),
            due_date: (today + chrono::Days::new(14)).to_string(),
            recurring_invoice_id: None,
            lines: vec![("Managed services".into(), args.amount)],
        },
    )?;
    let quote = app
        .quote(
            &tenant,
            &[QuoteItem {
                invoice_id: invoice.id,
                invoice_number: invoice.number.clone(),
                currency: invoice.currency.clone(),
                amount_due: invoice.amount_due,
            }],
            PaymentMethodType::Card,
        )
        .map_err(explain)?;
    let line = &quote.lines[0];
    step(
        5,
        "invoice",
        format_args!(
            "{} for {} due {}",
            invoice.number,
            show(&line.amount_due),
            invoice.due_date
        ),
    );
    step(
        6,
        "quote",
        format_args!(
            "{}: {} → total {} by card",
            line.fee_description,
            show(&line.fee),
            show(&quote.total)
        ),
    );
    println!("done: tenant {tenant} is in {}", config.db.display());
    Ok(())
}

/// `USD 123.45` — display only; the plugin computed the amounts.
fn show(m: &crate::runtime::bindings::Money) -> String {
    crate::access::money(m.amount, &m.currency)
}
