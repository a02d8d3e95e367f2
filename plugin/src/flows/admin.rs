//! Admin flows: validating settings, checking the connection, listing
//! Stripe customers, adding a mapping, generating mappings by exact name, listing a customer's
//! payment methods of the imported types.

use super::{Result, error, host_error, stripe_call};
use crate::bindings::exports::paydesk::stripe::admin::{
    AccountSummary, Mapped, MappingReport, PaymentMethodSummary, SkipReason, Skipped,
    StripeCustomer, StripeCustomerPage,
};
use crate::bindings::paydesk::stripe::helpdesk;
use crate::bindings::paydesk::stripe::types::{
    ErrorKind, FieldError, KeyKind, KeyMode, PluginError,
};
use crate::domain::mapping::{self, Decision};
use crate::domain::settings::{self as rules, SettingsInput};
use crate::domain::vocabulary as vocab;
use crate::settings::Settings;
use crate::stripe::payment_methods::{self, PaymentMethod};
use crate::stripe::{List, customers};

/// Stripe's largest page.
const PAGE: u32 = 100;

/// Check settings; `invalid-input` naming every bad field.
pub fn validate_settings(s: &Settings) -> Result<()> {
    let input = SettingsInput {
        enabled: s.enabled,
        public_key: s.stripe_public_key.clone(),
        secret_key: s.secret_key.as_ref().map(|k| {
            (
                match k.kind {
                    KeyKind::Secret => rules::KeyKind::Secret,
                    KeyKind::Restricted => rules::KeyKind::Restricted,
                    KeyKind::Publishable => rules::KeyKind::Publishable,
                    KeyKind::Unrecognised => rules::KeyKind::Unrecognised,
                },
                match k.mode {
                    KeyMode::Test => rules::KeyMode::Test,
                    KeyMode::Live => rules::KeyMode::Live,
                    KeyMode::Unknown => rules::KeyMode::Unknown,
                },
            )
        }),
        currency: s.stripe_currency.clone(),
        imported_types: s.stripepaymentmethodoptions.clone(),
        manual_types: s.stripemanualpaymentmethodoptions.clone(),
        fee_percent: s.stripe_processing_fee_percentage.clone(),
        fee_rules: s
            .stripe_fee_rules
            .iter()
            .map(|r| (r.method_type, r.percent.clone(), r.cap))
            .collect(),
        fee_cap: s.stripe_fee_cap,
        notification_email: s.stripenotificationemail.clone(),
        autopay_max_attempts: s.autopay_max_attempts,
        autopay_retry_interval_days: s.autopay_retry_interval_days,
        autopay_max_amount: s.autopay_max_amount,
        reconcile_after_minutes: s.reconcile_after_minutes,
        portal_base_url: s.portal_base_url.clone(),
    };
    let mut errors = rules::validate(&input);
    if !s.unsupported_types.is_empty() {
        errors.push(rules::FieldError {
            field: "stripepaymentmethodoptions",
            message: format!(
                "this plugin does not support the payment method types {}",
                s.unsupported_types.join(", ")
            ),
        });
    }
    if errors.is_empty() {
        return Ok(());
    }
    let summary = errors
        .iter()
        .map(|e| e.field)
        .collect::<Vec<_>>()
        .join(", ");
    Err(PluginError {
        kind: ErrorKind::InvalidInput,
        message: format!("the settings were not saved: check {summary}"),
        field_errors: errors
            .into_iter()
            .map(|e| FieldError {
                field: e.field.to_string(),
                message: e.message,
            })
            .collect(),
        stripe: None,
    })
}

/// A real call with the key the host holds for this call: list one customer.
pub fn test_connection() -> Result<AccountSummary> {
    let _: List<customers::Customer> = stripe_call(&customers::list(None, 1))?;
    let livemode = crate::settings::get()
        .secret_key
        .is_some_and(|k| k.mode == KeyMode::Live);
    Ok(AccountSummary {
        account_id: None,
        livemode,
    })
}

/// One page of Stripe customers (deleted ones left out).
pub fn list_stripe_customers(
    starting_after: Option<&str>,
    limit: u32,
) -> Result<StripeCustomerPage> {
    let page: List<customers::Customer> = stripe_call(&customers::list(starting_after, limit))?;
    Ok(StripeCustomerPage {
        has_more: page.has_more,
        customers: page
            .data
            .into_iter()
            .filter(|c| !c.deleted)
            .map(|c| StripeCustomer {
                id: c.id,
                name: c.name,
                email: c.email,
            })
            .collect(),
    })
}

/// Map a helpdesk customer to a Stripe customer that exists; one-to-one both ways.
pub fn add_mapping(customer: i64, stripe_customer_id: &str) -> Result<()> {
    let stripe_customer_id = stripe_customer_id.trim();
    if !stripe_customer_id.starts_with("cus_") {
        return Err(error(
            ErrorKind::InvalidInput,
            format!("`{stripe_customer_id}` is not a Stripe customer id (cus_…)"),
        ));
    }
    let current = helpdesk::get_customer(customer).map_err(|e| host_error("customer", e))?;
    match current.stripe_customer_id.as_deref() {
        Some(id) if id == stripe_customer_id => return Ok(()),
        Some(id) => {
            return Err(error(
                ErrorKind::Conflict,
                format!(
                    "{} is already mapped to Stripe customer {id}; remove that mapping first",
                    current.name
                ),
            ));
        }
        None => {}
    }
    let found: customers::Customer = stripe_call(&customers::retrieve(stripe_customer_id))
        .map_err(|mut e| {
            if e.kind == ErrorKind::NotFound {
                e.message = format!("Stripe has no customer {stripe_customer_id}");
            }
            e
        })?;
    if found.deleted {
        return Err(error(
            ErrorKind::NotFound,
            format!("Stripe customer {stripe_customer_id} was deleted"),
        ));
    }
    helpdesk::set_stripe_customer_id(customer, Some(stripe_customer_id))
        .map_err(|e| host_error("mapping", e))
}

/// Every Stripe customer, page by page.
fn all_stripe_customers() -> Result<Vec<mapping::StripeCustomer>> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page: List<customers::Customer> =
            stripe_call(&customers::list(after.as_deref(), PAGE))?;
        after = page.data.last().map(|c| c.id.clone());
        all.extend(
            page.data
                .into_iter()
                .filter(|c| !c.deleted)
                .map(|c| mapping::StripeCustomer {
                    id: c.id,
                    name: c.name,
                }),
        );
        if !page.has_more || after.is_none() {
            return Ok(all);
        }
    }
}

/// Every helpdesk customer, page by page.
fn all_helpdesk_customers() -> Result<Vec<mapping::HelpdeskCustomer>> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = helpdesk::list_customers(after, 1000).map_err(|e| host_error("customers", e))?;
        let Some(last) = page.last() else {
            return Ok(all);
        };
        after = Some(last.id);
        all.extend(page.into_iter().map(|c| mapping::HelpdeskCustomer {
            id: c.id,
            name: c.name,
            stripe_customer_id: c.stripe_customer_id,
        }));
    }
}

/// Map unmapped customers whose name matches exactly one Stripe customer; report the rest.
pub fn generate_mappings() -> Result<MappingReport> {
    let stripe = all_stripe_customers()?;
    let plan = mapping::plan(&all_helpdesk_customers()?, &stripe);
    let mut report = MappingReport {
        mapped: Vec::new(),
        skipped: Vec::new(),
        already_mapped: plan.already_mapped,
        stripe_customers_seen: u32::try_from(stripe.len()).unwrap_or(u32::MAX),
    };
    for decision in plan.decisions {
        match decision {
            Decision::Map {
                customer_id,
                customer_name,
                stripe_customer_id,
            } => {
                match helpdesk::set_stripe_customer_id(customer_id, Some(&stripe_customer_id)) {
                    Ok(()) => report.mapped.push(Mapped {
                        customer_id,
                        customer_name,
                        stripe_customer_id,
                    }),
                    // Mapped meanwhile by someone else: report, don't fail the whole run.
                    Err(_) => report.skipped.push(Skipped {
                        customer_id,
                        customer_name,
                        reason: SkipReason::StripeCustomerTaken,
                        stripe_customer_ids: vec![stripe_customer_id],
                    }),
                }
            }
            Decision::Skip {
                customer_id,
                customer_name,
                reason,
                stripe_customer_ids,
            } => report.skipped.push(Skipped {
                customer_id,
                customer_name,
                reason: match reason {
                    mapping::SkipReason::NoMatch => SkipReason::NoMatch,
                    mapping::SkipReason::SeveralInStripe => SkipReason::SeveralInStripe,
                    mapping::SkipReason::SeveralInHelpdesk => SkipReason::SeveralInHelpdesk,
                    mapping::SkipReason::StripeCustomerTaken => SkipReason::StripeCustomerTaken,
                },
                stripe_customer_ids,
            }),
        }
    }
    Ok(report)
}

/// The customer's Stripe id, or a clear error when it is not mapped.
pub fn mapped_stripe_customer(customer: i64) -> Result<(helpdesk::Customer, String)> {
    let c = helpdesk::get_customer(customer).map_err(|e| host_error("customer", e))?;
    match c.stripe_customer_id.clone() {
        Some(id) => Ok((c, id)),
        None => Err(error(
            ErrorKind::NotConfigured,
            format!(
                "{} is not mapped to a Stripe customer; add a mapping on the setup page",
                c.name
            ),
        )),
    }
}

/// The customer's attached methods of the imported types, each listed once.
pub fn attached_methods(
    stripe_customer: &str,
    imported: &[vocab::PaymentMethodType],
) -> Result<Vec<PaymentMethod>> {
    let mut methods = Vec::new();
    for t in imported {
        let mut after: Option<String> = None;
        loop {
            let page: List<PaymentMethod> = stripe_call(&payment_methods::list(
                stripe_customer,
                *t,
                after.as_deref(),
            ))?;
            after = page.data.last().map(|m| m.id.clone());
            methods.extend(page.data);
            if !page.has_more || after.is_none() {
                break;
            }
        }
    }
    Ok(methods)
}

/// Payment methods attached to the customer in Stripe, of the imported types only.
pub fn list_payment_methods(customer: i64) -> Result<Vec<PaymentMethodSummary>> {
    let (c, stripe_id) = mapped_stripe_customer(customer)?;
    let imported = crate::settings::get().stripepaymentmethodoptions;
    let methods = attached_methods(&stripe_id, &imported)?;
    Ok(methods
        .into_iter()
        .filter_map(|m| {
            let t = m.known_type()?;
            Some(PaymentMethodSummary {
                is_automatic: c.stripe_payment_method_id.as_deref() == Some(m.id.as_str()),
                display_name: m.display_name(),
                method_type: t.into(),
                id: m.id,
            })
        })
        .collect())
}
