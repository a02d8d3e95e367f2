//! Expiring automatic cards (the `reminders` export, contract 0.2.0's optional interface): the
//! daily run emails each customer whose automatic card expires this month or next, once per card
//! and month, and the customer's Stripe section asks whether its card does. "Once" is the outbox's
//! unique dedup key (`domain::card_expiry::reminder_key`) in the host's database, never memory.
//!
//! A card's expiry is kept in the tenant's storage (`pm-expiry/{pm}`, `MM/YYYY`) when first read
//! from Stripe. Stripe's card updater only ever moves an expiry later, so a kept expiry that is
//! not soon is not soon; one that is soon is read again from Stripe before the customer is told.
#![cfg(not(feature = "contract-v0_1"))]

use super::{Result, error, host_error, log, stripe_call};
use crate::bindings::exports::paydesk::stripe::reminders::{CardReminder, ExpiringCard};
use crate::bindings::paydesk::stripe::email::{self, Message};
use crate::bindings::paydesk::stripe::helpdesk::{self, Customer};
use crate::bindings::paydesk::stripe::log::Level;
use crate::bindings::paydesk::stripe::storage;
use crate::bindings::paydesk::stripe::types::ErrorKind;
use crate::domain::autopay::day_number;
use crate::domain::card_expiry::{self, Expiring};
use crate::domain::emails::{Variables, escape_html, render, text_of};
use crate::domain::vocabulary::PaymentMethodType;
use crate::stripe::payment_methods::{self, PaymentMethod};

fn expiry_key(pm_id: &str) -> String {
    format!("pm-expiry/{pm_id}")
}

/// The card's expiry as Stripe says it now, kept for next time (replacing what was kept).
fn read_expiry(pm_id: &str, kept_version: Option<u64>) -> Result<Option<(u32, u32, String)>> {
    let pm: PaymentMethod = stripe_call(&payment_methods::retrieve(pm_id))?;
    let Some((m, y)) = pm
        .card
        .as_ref()
        .and_then(|c| Some((c.exp_month?, c.exp_year?)))
    else {
        return Ok(None);
    };
    let value = card_expiry::shown(m, y);
    // Best effort: a lost race only costs another read.
    let _ = match kept_version {
        Some(v) => storage::compare_and_swap(&expiry_key(pm_id), v, value.as_bytes()),
        None => storage::put_new(&expiry_key(pm_id), value.as_bytes()),
    };
    Ok(Some((m, y, pm.display_name())))
}

/// `MM/YYYY` as (month, year).
fn parse_kept(text: &str) -> Option<(u32, u32)> {
    let (m, y) = text.split_once('/')?;
    Some((m.parse().ok()?, y.parse().ok()?))
}

/// The customer's automatic card when it expires in `date`'s month or the next.
fn expiring_card_of(customer: &Customer, date: &str) -> Result<Option<ExpiringCard>> {
    let Some(pm_id) = customer.stripe_payment_method_id.as_deref() else {
        return Ok(None);
    };
    let (method_type, _) = super::payment_methods::describe(pm_id)?;
    if method_type != PaymentMethodType::Card {
        return Ok(None);
    }
    let kept = storage::lookup(&expiry_key(pm_id))
        .ok()
        .and_then(|l| l.entry)
        .and_then(|e| {
            let text = String::from_utf8(e.value).ok()?;
            Some((parse_kept(&text)?, e.version))
        });
    let (month, year, name) = match kept {
        Some(((m, y), _)) if card_expiry::expiring(date, m, y).is_none() => return Ok(None),
        Some((_, version)) => match read_expiry(pm_id, Some(version))? {
            Some(fresh) => fresh,
            None => return Ok(None),
        },
        None => match read_expiry(pm_id, None)? {
            Some(fresh) => fresh,
            None => return Ok(None),
        },
    };
    let Some(when) = card_expiry::expiring(date, month, year) else {
        return Ok(None);
    };
    Ok(Some(ExpiringCard {
        customer_id: customer.id,
        payment_method_id: pm_id.to_string(),
        display_name: name,
        exp_month: month,
        exp_year: year,
        this_month: when == Expiring::ThisMonth,
        reminder_key: card_expiry::reminder_key(pm_id, date),
    }))
}

fn check_date(date: &str) -> Result<()> {
    match day_number(date) {
        Some(_) => Ok(()),
        None => Err(error(
            ErrorKind::InvalidInput,
            format!("`{date}` is not a date (YYYY-MM-DD)"),
        )),
    }
}

/// The customer's Stripe section: its automatic card, when it expires this month or next.
pub fn expiring_card(customer: i64, date: &str) -> Result<Option<ExpiringCard>> {
    check_date(date)?;
    let c = helpdesk::get_customer(customer).map_err(|e| host_error("customer", e))?;
    expiring_card_of(&c, date)
}

/// The daily run: remind every customer whose automatic card expires this month or next.
pub fn remind_expiring_cards(date: &str) -> Result<Vec<CardReminder>> {
    check_date(date)?;
    let settings = crate::settings::get();
    if !(settings.enabled && settings.enableautostripepayment) {
        return Ok(Vec::new());
    }
    let portal_link = settings
        .portal_base_url
        .as_deref()
        .map(|base| format!("{}/portal", base.trim_end_matches('/')))
        .unwrap_or_default();
    let mut reminders = Vec::new();
    let mut after = None;
    loop {
        let page = helpdesk::list_customers(after, 1000).map_err(|e| host_error("customers", e))?;
        let Some(last) = page.last() else {
            return Ok(reminders);
        };
        after = Some(last.id);
        for c in page.iter().filter(|c| c.stripe_customer_id.is_some()) {
            let card = match expiring_card_of(c, date) {
                Ok(Some(card)) => card,
                Ok(None) => continue,
                Err(e) => {
                    log(
                        Level::Warn,
                        &format!(
                            "the expiry of {}'s automatic card could not be read: {}",
                            c.name, e.message
                        ),
                    );
                    continue;
                }
            };
            let queued = remind(c, &card, &portal_link)?;
            reminders.push(CardReminder { card, queued });
        }
    }
}

/// Queue the customer's reminder (once per card and month: its dedup key).
fn remind(customer: &Customer, card: &ExpiringCard, portal_link: &str) -> Result<bool> {
    let Some(to) = crate::flows::emails::address(customer.accounts_email.as_deref()) else {
        log(
            Level::Warn,
            &format!(
                "{} has no accounts email to remind of its expiring card",
                customer.name
            ),
        );
        return Ok(false);
    };
    let expiry = card_expiry::shown(card.exp_month, card.exp_year);
    let template = helpdesk::get_email_template(card_expiry::TEMPLATE_ID)
        .map(|t| (t.subject, t.body))
        .unwrap_or_else(|_| {
            (
                card_expiry::TEMPLATE_SUBJECT.to_string(),
                card_expiry::TEMPLATE_BODY.to_string(),
            )
        });
    let vars = |escape: bool| {
        let e = |s: &str| {
            if escape {
                escape_html(s)
            } else {
                s.to_string()
            }
        };
        Variables {
            customer_name: e(&customer.name),
            payment_method: e(&card.display_name),
            portal_link: e(portal_link),
            ..Variables::default()
        }
    };
    let fill = |text: &str, escape: bool| {
        let shown = if escape {
            escape_html(&expiry)
        } else {
            expiry.clone()
        };
        render(&text.replace("$EXPIRY", &shown), &vars(escape))
    };
    let html = fill(&template.1, true);
    let cc = customer
        .accounts_cc_email
        .iter()
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty() && a != to)
        .collect();
    email::send(&Message {
        to: vec![to.to_string()],
        cc,
        subject: fill(&template.0, false),
        text: text_of(&html),
        html,
        dedup_key: Some(card.reminder_key.clone()),
    })
    .map_err(|e| host_error("sending the expiring card reminder", e))
}
