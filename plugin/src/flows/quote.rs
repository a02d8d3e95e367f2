//! Quotes: the tenant's fee settings (read through `helpdesk`) applied to a set of invoices by
//! `domain::fees`, and a priced charge held against Stripe's amount limits (`domain::limits`).
//! Reads only.

use std::str::FromStr;

use rust_decimal::Decimal;

use super::{Result, error};
use crate::bindings::exports::paydesk::stripe::payments::{Quotation, QuoteItem, QuoteLine};
use crate::bindings::known_type;
use crate::bindings::paydesk::stripe::helpdesk;
use crate::bindings::paydesk::stripe::types::{
    ErrorKind, FieldError, Money, PaymentMethodType, PluginError,
};
use crate::domain::fees::{self, FeePolicy, FeeRule};
use crate::domain::limits;
use crate::domain::money::{self, MinorUnits};
use crate::domain::vocabulary as vocab;
use crate::settings::Settings;

/// The fee policy the settings describe.
pub fn fee_policy(settings: &Settings) -> Result<FeePolicy> {
    let percent = |field: &str, s: &str| {
        Decimal::from_str(s.trim()).map_err(|_| {
            error(
                ErrorKind::NotConfigured,
                format!("setting {field} is not a percentage: `{s}`"),
            )
        })
    };
    let rules = settings
        .stripe_fee_rules
        .iter()
        .map(|r| {
            Ok(FeeRule {
                method_type: r.method_type,
                percent: percent("stripe_fee_rules", &r.percent)?,
                cap: r.cap.map(MinorUnits),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(FeePolicy {
        default_percent: percent(
            "stripe_processing_fee_percentage",
            &settings.stripe_processing_fee_percentage,
        )?,
        default_cap: settings.stripe_fee_cap.map(MinorUnits),
        rules,
    })
}

/// A quote's or a charge's refusal as `invalid-input` naming `invoice_ids`: the invoices chosen
/// are what the payer would change.
pub fn invoices_refused(message: String) -> PluginError {
    let mut e = error(ErrorKind::InvalidInput, message.clone());
    e.field_errors.push(FieldError {
        field: "invoice_ids".into(),
        message,
    });
    e
}

/// An invoice as `domain::fees` prices it.
pub fn item(invoice: &helpdesk::Invoice) -> fees::QuoteItem {
    fees::QuoteItem {
        invoice_id: invoice.id,
        invoice_number: invoice.number.clone(),
        currency: invoice.currency.clone(),
        amount_due: invoice.amount_due,
    }
}

/// Price invoices for a charge: the quote, and Stripe's limits on its total (the minimum of the
/// currency, eight digits at most, three-decimal amounts ending in 0) checked before anything is
/// sent to Stripe.
pub fn chargeable(
    items: &[fees::QuoteItem],
    method_type: vocab::PaymentMethodType,
    policy: &FeePolicy,
) -> Result<fees::Quote> {
    let q = fees::quote(items, method_type, policy).map_err(|e| invoices_refused(e.to_string()))?;
    limits::check_quote(&q).map_err(|e| invoices_refused(e.to_string()))?;
    Ok(q)
}

fn to_wit(m: money::Money) -> Money {
    Money {
        amount: m.amount.0,
        currency: m.currency.code().to_string(),
    }
}

/// A domain quote as the WIT quotation.
pub fn quotation(q: fees::Quote, method_type: PaymentMethodType) -> Quotation {
    Quotation {
        lines: q
            .lines
            .into_iter()
            .map(|l| QuoteLine {
                invoice_id: l.invoice_id,
                invoice_number: l.invoice_number,
                amount_due: to_wit(l.amount_due),
                fee: to_wit(l.fee),
                fee_description: l.fee_description,
                total: to_wit(l.total),
            })
            .collect(),
        total: to_wit(q.total),
        method_type,
    }
}

/// Price `items` for `method_type` with the tenant's fee settings.
pub fn quote(items: Vec<QuoteItem>, method_type: PaymentMethodType) -> Result<Quotation> {
    let policy = fee_policy(&crate::settings::get())?;
    let items: Vec<fees::QuoteItem> = items
        .into_iter()
        .map(|i| fees::QuoteItem {
            invoice_id: i.invoice_id,
            invoice_number: i.invoice_number,
            currency: i.currency,
            amount_due: i.amount_due,
        })
        .collect();
    let q = fees::quote(&items, known_type(method_type.clone())?, &policy)
        .map_err(|e| error(ErrorKind::InvalidInput, e.to_string()))?;
    Ok(quotation(q, method_type))
}
