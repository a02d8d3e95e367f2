//! Payment emails: on success the "Stripe Payment Confirmation" template (264)
//! when enabled and Stripe is not sending receipts, on failure always "Stripe Payment Failure"
//! (285); to the notification address, CC the customer's accounts addresses and the paying user.
//! One outcome, one email: the dedup key is the intent (or group) and the outcome. An email that
//! could not be sent goes to the log and to each invoice's audit trail (`email-not-sent`).

use super::{Result, host_error, log};
use crate::bindings::paydesk::stripe::email::{self, Message};
use crate::bindings::paydesk::stripe::helpdesk::{
    self, AuditEntry, Initiator, InvoicePayment, PaymentStatus,
};
use crate::bindings::paydesk::stripe::log::Level;
use crate::bindings::paydesk::stripe::types::PluginError;
use crate::domain::emails::{Variables, escape_html, recipients, render, text_of};
use crate::domain::money::{Currency, MinorUnits, Money, MoneyError};
use crate::domain::vocabulary as vocab;

pub const CONFIRMATION_TEMPLATE: u32 = 264;
pub const FAILURE_TEMPLATE: u32 = 285;

fn format(amount: i64, currency: &str) -> String {
    match Currency::parse(currency) {
        Ok(c) => Money::new(amount, c).to_string(),
        Err(_) => format!("{} {amount}", currency.to_ascii_uppercase()),
    }
}

/// Send the email for a group that reached `status` (succeeded or failed).
pub fn payment_outcome(
    records: &[InvoicePayment],
    status: PaymentStatus,
    intent: Option<&str>,
) -> Result<()> {
    let Some(first) = records.first() else {
        return Ok(());
    };
    let settings = crate::settings::get();
    let template_id = match status {
        PaymentStatus::Succeeded
            if settings.stripe_send_recipient_email && !settings.use_stripe_receipt_emails =>
        {
            CONFIRMATION_TEMPLATE
        }
        PaymentStatus::Failed => FAILURE_TEMPLATE,
        // Off-session payments that need the payer: tell them where to complete it (B4).
        PaymentStatus::RequiresAction if matches!(first.initiator, Initiator::Autopay) => {
            FAILURE_TEMPLATE
        }
        _ => return Ok(()),
    };
    let mut numbers = Vec::new();
    let mut customer_id = None;
    for r in records {
        let invoice = helpdesk::get_invoice(r.invoice_id).map_err(|e| host_error("invoice", e))?;
        customer_id = Some(invoice.customer_id);
        numbers.push(invoice.number);
    }
    let customer = match customer_id {
        Some(id) => helpdesk::get_customer(id).map_err(|e| host_error("customer", e))?,
        None => return Ok(()),
    };
    let payer = match first.initiator {
        Initiator::PortalUser(id) => helpdesk::get_user(id).ok().map(|u| u.email),
        _ => None,
    };
    let Some((to, cc)) = recipients(
        settings.stripenotificationemail.as_deref(),
        customer.accounts_email.as_deref(),
        customer.accounts_cc_email.as_deref(),
        payer.as_deref(),
    ) else {
        log(
            Level::Warn,
            &format!(
                "no address to send the payment email for {} to",
                numbers.join(", ")
            ),
        );
        return Ok(());
    };
    let currency = first.amount.currency.clone();
    // Checked sums: one charge is at most eight digits, so these never overflow; if records said
    // otherwise the email says so rather than showing a wrapped figure.
    let amount = MinorUnits::checked_sum(records.iter().map(|r| MinorUnits(r.amount.amount)));
    let fee = MinorUnits::checked_sum(records.iter().map(|r| MinorUnits(r.fee.amount)));
    let total = match (&amount, &fee) {
        (Ok(a), Ok(f)) => a.checked_add(*f),
        _ => Err(MoneyError::Overflow),
    };
    let shown = |sum: std::result::Result<MinorUnits, MoneyError>| match sum {
        Ok(m) => format(m.0, &currency),
        Err(_) => "(too large to add up)".to_string(),
    };
    let vars = Variables {
        invoice_numbers: numbers,
        customer_name: customer.name.clone(),
        amount: shown(amount),
        fee: shown(fee),
        total: shown(total),
        payment_method: first.method.clone().unwrap_or_else(|| "Stripe".into()),
        failure_reason: if status == PaymentStatus::RequiresAction {
            "your bank asks you to confirm this payment; complete it in the portal".into()
        } else {
            first.failure_reason.clone().unwrap_or_default()
        },
        portal_link: settings
            .portal_base_url
            .as_deref()
            .map(|base| format!("{}/portal", base.trim_end_matches('/')))
            .unwrap_or_default(),
    };
    let escaped = Variables {
        invoice_numbers: vars
            .invoice_numbers
            .iter()
            .map(|n| escape_html(n))
            .collect(),
        customer_name: escape_html(&vars.customer_name),
        amount: escape_html(&vars.amount),
        fee: escape_html(&vars.fee),
        total: escape_html(&vars.total),
        payment_method: escape_html(&vars.payment_method),
        failure_reason: escape_html(&vars.failure_reason),
        portal_link: escape_html(&vars.portal_link),
    };
    let template =
        helpdesk::get_email_template(template_id).map_err(|e| host_error("email template", e))?;
    let html = render(&template.body, &escaped);
    let key = format!(
        "payment/{}/{}",
        intent.unwrap_or(&first.group_id),
        vocab::PaymentStatus::from(status)
    );
    email::send(&Message {
        to,
        cc,
        subject: render(&template.subject, &vars),
        text: text_of(&html),
        html,
        dedup_key: Some(key),
    })
    .map_err(|e| host_error("sending the payment email", e))?;
    Ok(())
}

/// Report that `email` (e.g. "the `succeeded` payment email") about `records` was not sent: the
/// log, and an audit entry per invoice (agents see it on the invoice). The payment itself stands as
/// it is.
pub fn not_sent(records: &[InvoicePayment], email: &str, e: &PluginError) {
    let reason = format!("{email} was not sent: {}", e.message);
    log(Level::Warn, &reason);
    let entries: Vec<AuditEntry> = records
        .iter()
        .map(|r| AuditEntry {
            invoice_id: Some(r.invoice_id),
            action: "email-not-sent".into(),
            reason: reason.clone(),
            amount: None,
        })
        .collect();
    if let Err(e) = helpdesk::audit(&entries) {
        log(Level::Error, &format!("audit trail: {e:?}"));
    }
}

/// An address as saved, if it names one (trimmed; blank is none).
pub fn address(saved: Option<&str>) -> Option<&str> {
    saved.map(str::trim).filter(|a| !a.is_empty())
}

/// Tell the notification address that Stripe reported for `records` an intent paydesk did not
/// apply (`reasons`: one per record, as audited). Once per `key` (the intent, the group's first
/// record and the status), however often the event comes.
pub fn anomaly(records: &[InvoicePayment], reasons: &[String], key: &str) -> Result<()> {
    let settings = crate::settings::get();
    let Some(to) = address(settings.stripenotificationemail.as_deref()) else {
        log(
            Level::Warn,
            "no notification address to send the payment anomaly email to",
        );
        return Ok(());
    };
    let mut numbers = Vec::new();
    for r in records {
        let invoice = helpdesk::get_invoice(r.invoice_id).map_err(|e| host_error("invoice", e))?;
        numbers.push(invoice.number);
    }
    let listed = match numbers.len() {
        0..=3 => numbers.join(", "),
        n => format!("{} (+{} more)", numbers[..3].join(", "), n - 3),
    };
    let mut html = format!(
        "<p>Stripe reported a payment for invoice {} that paydesk did not apply. The invoice is not marked paid; check the payment in Stripe before settling it by hand.</p>",
        escape_html(&listed)
    );
    for reason in reasons {
        html.push_str(&format!("<p>{}</p>", escape_html(reason)));
    }
    email::send(&Message {
        to: vec![to.to_string()],
        cc: Vec::new(),
        subject: format!("Payment anomaly on invoice {listed}: not settled"),
        text: text_of(&html),
        html,
        dedup_key: Some(key.to_string()),
    })
    .map_err(|e| host_error("sending the payment anomaly email", e))?;
    Ok(())
}
