//! The daily run's plan: which invoices it would charge for a date, and why each is charged or
//! skipped (Stripe's amount limits and the autopay caps priced with the card fee, as the plan's
//! amount is; the charge prices them again with the method it is made with). Reads only.

use super::{
    candidate, charge_amount, customer_cap, policy, refused_by_caps, refused_by_stripe_limits,
};
use crate::bindings::exports::paydesk::stripe::events::AutopayDecision;
use crate::bindings::paydesk::stripe::helpdesk::{
    self, Customer, Invoice, InvoiceFilter, InvoiceStatus,
};
use crate::bindings::paydesk::stripe::types::{ErrorKind, Money};
use crate::domain::autopay::{self, Decision};
use crate::domain::vocabulary as vocab;
use crate::flows::{Result, error, host_error};

/// All invoices matching `filter`, page by page.
fn all_invoices(mut filter: InvoiceFilter) -> Result<Vec<Invoice>> {
    let mut all = Vec::new();
    loop {
        let page = helpdesk::list_invoices(&filter).map_err(|e| host_error("invoices", e))?;
        let Some(last) = page.last() else {
            return Ok(all);
        };
        filter.after_id = Some(last.id);
        all.extend(page);
    }
}

/// The daily run's plan for `date`: every recurring invoice awaiting payment and every manual one
/// past due, charge or skip and why. Reads only.
pub fn plan(date: &str) -> Result<Vec<AutopayDecision>> {
    if autopay::day_number(date).is_none() {
        return Err(error(
            ErrorKind::InvalidInput,
            format!("`{date}` is not a date (YYYY-MM-DD)"),
        ));
    }
    let settings = crate::settings::get();
    let policy = policy(&settings);
    let base = InvoiceFilter {
        customer_id: None,
        status: Some(InvoiceStatus::AwaitingPayment),
        due_on_or_before: None,
        recurring_only: true,
        after_id: None,
        limit: 1000,
    };
    let mut invoices = all_invoices(base.clone())?;
    invoices.extend(
        all_invoices(InvoiceFilter {
            recurring_only: false,
            due_on_or_before: Some(date.to_string()),
            ..base
        })?
        .into_iter()
        .filter(|i| i.recurring_invoice_id.is_none()),
    );
    invoices.sort_by_key(|i| i.id);
    let mut customers: Vec<Customer> = Vec::new();
    // Each customer's own autopay cap, read once.
    let mut caps: Vec<(i64, Option<Money>)> = Vec::new();
    let mut plan = Vec::with_capacity(invoices.len());
    for invoice in invoices {
        let customer = match customers.iter().find(|c| c.id == invoice.customer_id) {
            Some(c) => c.clone(),
            None => {
                let c = helpdesk::get_customer(invoice.customer_id)
                    .map_err(|e| host_error("customer", e))?;
                customers.push(c.clone());
                c
            }
        };
        let (candidate, _) = candidate(&invoice, &customer)?;
        let decision = autopay::decide(&candidate, &policy, date);
        // Only future charges are listed for invoices not yet due (creation-mode retries are).
        if let Decision::Skip { reason } = &decision
            && reason.starts_with("due on")
        {
            continue;
        }
        let (charge, attempt, reason) = match decision {
            // Priced with the card fee, as the plan's amount is (the charge prices it again with
            // the method it is made with).
            Decision::Charge { attempt, reason } => {
                let card = vocab::PaymentMethodType::Card;
                match refused_by_stripe_limits(&invoice, &settings, card) {
                    Ok(Some(refused)) => (false, 0, refused),
                    _ => {
                        let cap = match caps.iter().find(|(id, _)| *id == customer.id) {
                            Some((_, cap)) => cap.clone(),
                            None => {
                                let cap = customer_cap(&customer)?;
                                caps.push((customer.id, cap.clone()));
                                cap
                            }
                        };
                        match refused_by_caps(&invoice, cap.as_ref(), &settings, card)? {
                            Some(capped) => (false, 0, capped),
                            None => (true, attempt, reason),
                        }
                    }
                }
            }
            Decision::Skip { reason } => (false, 0, reason),
        };
        plan.push(AutopayDecision {
            invoice_id: invoice.id,
            invoice_number: invoice.number.clone(),
            customer_id: invoice.customer_id,
            amount: charge_amount(&invoice, &settings),
            charge,
            attempt,
            reason,
        });
    }
    Ok(plan)
}
