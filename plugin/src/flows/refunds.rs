//! Refunds of succeeded payments (the optional `refunds` export, and Stripe's refund events).
//!
//! An agent with "Can Refund Stripe Payments" refunds a payment record in full or in part. The
//! refund is claimed first (`helpdesk.claim-refund`: the host's database writes it only while the
//! record's refunds stay within what it paid, in one transaction), then asked of Stripe
//! (`POST /v1/refunds`) with an idempotency key derived from the claim and the claim in the
//! Refund's metadata. So a refund is never made twice: two agents at once get one claim each only
//! if both fit, a retried request is the same request, and an answer that was lost is found again
//! by reading the PaymentIntent's refunds back before asking again. What Stripe says of a refund —
//! its answer, the read-back, `refund.created` / `.updated` (and `charge.refund.updated`,
//! `refund.failed`), and `charge.refunded` for refunds made in Stripe's dashboard — is recorded by the host on Stripe's clock
//! (`payment_state::refund_should_apply`), which also makes what it gave back of the invoice owed
//! again. The customer is told of a succeeded refund once (template 287, dedup key per refund and
//! record), unless Stripe sends its own receipts.

#![cfg(not(feature = "contract-v0_1"))]

use super::{Result, emails, error, host_error, log, stripe_now, stripe_send};
use crate::bindings::exports::paydesk::stripe::events::EventOutcome;
use crate::bindings::exports::paydesk::stripe::refunds::{RefundQuote, RefundRequest};
use crate::bindings::paydesk::stripe::email::{self, Message};
use crate::bindings::paydesk::stripe::helpdesk::{
    self, AuditEntry, InvoicePayment, NewRefund, PaymentFilter, PaymentStatus, Refund,
    RefundObservation, RefundStatus,
};
use crate::bindings::paydesk::stripe::log::Level;
use crate::bindings::paydesk::stripe::storage;
use crate::bindings::paydesk::stripe::types::{
    ErrorKind, FieldError, HostError, Money, PluginError,
};
use crate::domain::emails::{Variables, escape_html, recipients, render, text_of};
use crate::domain::money::{Currency, Money as Amount};
use crate::domain::payment_state::refund_owes_again;
use crate::domain::refunds::{self, RefundRefused, Refundable};
use crate::domain::vocabulary as vocab;
use crate::stripe::events::Event;
use crate::stripe::refunds as stripe_refunds;
use crate::stripe::{self, IdOrObject, List};

/// Whether `event_type` is a refund event this module applies (`domain::refunds::EVENT_TYPES`).
pub fn handles(event_type: &str) -> bool {
    refunds::EVENT_TYPES.contains(&event_type)
}

fn shown(m: &Money) -> String {
    Currency::parse(&m.currency)
        .map(|c| Amount::new(m.amount, c).to_string())
        .unwrap_or_else(|_| format!("{} {}", m.currency.to_ascii_uppercase(), m.amount))
}

fn money(amount: i64, currency: &str) -> Money {
    Money {
        amount,
        currency: currency.to_ascii_lowercase(),
    }
}

/// The agent may refund: the integration is on and the agent has "Can Refund Stripe Payments".
fn check_agent(agent: i64) -> Result<()> {
    if !crate::settings::get().enabled {
        return Err(error(
            ErrorKind::NotConfigured,
            "the Stripe integration is not enabled",
        ));
    }
    let can = helpdesk::can_refund(agent).map_err(|e| host_error("agent", e))?;
    if !can {
        return Err(error(
            ErrorKind::PermissionDenied,
            "this agent may not refund Stripe payments (\"Can Refund Stripe Payments\")",
        ));
    }
    Ok(())
}

/// The succeeded payment record `payment` of `invoice`, and its invoice's refunds.
fn refundable_record(invoice: i64, payment: i64) -> Result<(InvoicePayment, Vec<Refund>)> {
    let record = helpdesk::list_payments(&PaymentFilter::Invoice(invoice))
        .map_err(|e| host_error("payments", e))?
        .into_iter()
        .find(|r| r.id == payment)
        .ok_or_else(|| {
            error(
                ErrorKind::NotFound,
                format!("invoice {invoice} has no payment {payment}"),
            )
        })?;
    if record.status != PaymentStatus::Succeeded || record.intent_id.is_none() {
        return Err(error(
            ErrorKind::Conflict,
            format!(
                "payment {payment} is {}: only a succeeded payment can be refunded",
                vocab::PaymentStatus::from(record.status).label()
            ),
        ));
    }
    let all = helpdesk::list_refunds(invoice).map_err(|e| host_error("refunds", e))?;
    Ok((record, all))
}

/// What `record` can still give back, given the invoice's `refunds`.
fn room(record: &InvoicePayment, refunds: &[Refund]) -> Result<Refundable> {
    let live: Vec<(i64, i64)> = refunds
        .iter()
        .filter(|r| r.payment_id == record.id)
        .filter(|r| !vocab::RefundStatus::from(r.status).is_void())
        .map(|r| (r.amount.amount, r.fee_part.amount))
        .collect();
    refunds::refundable(
        record.amount.amount,
        record.fee.amount,
        &live,
        crate::settings::get().stripe_refund_processing_fee,
    )
    .map_err(|_| {
        error(
            ErrorKind::Internal,
            format!("payment {}: its amounts overflow", record.id),
        )
    })
}

/// What can still be refunded of payment record `payment` of `invoice`.
pub fn quote_refund(invoice: i64, payment: i64, agent: i64) -> Result<RefundQuote> {
    check_agent(agent)?;
    let (record, all) = refundable_record(invoice, payment)?;
    let r = room(&record, &all)?;
    let c = &record.amount.currency;
    Ok(RefundQuote {
        payment_id: record.id,
        paid: money(r.paid, c),
        refunded: money(r.refunded, c),
        refundable: money(r.refundable, c),
        fee_part: money(r.fee_part, c),
    })
}

/// The `amount` field refused, as `invalid-input` naming it.
fn amount_refused(e: RefundRefused, currency: &str) -> PluginError {
    let words = match &e {
        RefundRefused::MoreThanRefundable { asked, refundable } => format!(
            "the amount to refund ({}) is more than the {} that can still be refunded",
            shown(&money(*asked, currency)),
            shown(&money(*refundable, currency))
        ),
        other => other.to_string(),
    };
    let mut refused = error(ErrorKind::InvalidInput, words.clone());
    refused.field_errors.push(FieldError {
        field: "amount".into(),
        message: words,
    });
    refused
}

/// Refund payment record `request.payment` of `request.invoice`: claimed, then asked of Stripe.
pub fn refund_payment(request: RefundRequest) -> Result<Refund> {
    check_agent(request.agent)?;
    let (record, all) = refundable_record(request.invoice, request.payment)?;
    let r = room(&record, &all)?;
    let currency = record.amount.currency.clone();
    let (amount, fee_part) =
        refunds::to_refund(&r, request.amount).map_err(|e| amount_refused(e, &currency))?;
    let claim = helpdesk::claim_refund(&NewRefund {
        payment_id: record.id,
        amount: money(amount, &currency),
        fee_part: money(fee_part, &currency),
        agent_id: request.agent,
    })
    .map_err(|e| match e {
        // Another refund of this payment got there first: the host says how much is left.
        HostError::Conflict(detail) => error(ErrorKind::Conflict, detail),
        other => host_error("claiming the refund", other),
    })?;
    audit(
        &record,
        "refund-claimed",
        format!(
            "refund of {} claimed by agent {} (fee part {})",
            shown(&claim.amount),
            request.agent,
            shown(&claim.fee_part)
        ),
        Some(claim.amount.clone()),
    );
    ask_stripe(&record, claim, false)
}

/// Ask Stripe again for claimed refund `refund` of `invoice` that has no answer yet.
pub fn resume_refund(invoice: i64, refund: i64, agent: i64) -> Result<Refund> {
    check_agent(agent)?;
    let claim = helpdesk::list_refunds(invoice)
        .map_err(|e| host_error("refunds", e))?
        .into_iter()
        .find(|r| r.id == refund)
        .ok_or_else(|| {
            error(
                ErrorKind::NotFound,
                format!("invoice {invoice} has no refund {refund}"),
            )
        })?;
    if claim.refund_id.is_some() || claim.status != RefundStatus::Pending {
        // Stripe has answered for it: nothing to ask again.
        return Ok(claim);
    }
    let record = helpdesk::list_payments(&PaymentFilter::Invoice(invoice))
        .map_err(|e| host_error("payments", e))?
        .into_iter()
        .find(|r| r.id == claim.payment_id)
        .ok_or_else(|| error(ErrorKind::NotFound, format!("payment {}", claim.payment_id)))?;
    ask_stripe(&record, claim, true)
}

/// The claim's Refund at Stripe, if Stripe made one: the PaymentIntent's refunds read back.
fn read_back(intent: &str, claim_id: i64) -> Result<Option<stripe_refunds::Refund>> {
    let list: List<stripe_refunds::Refund> =
        super::stripe_call(&stripe_refunds::of_intent(intent))?;
    let tenant = helpdesk::tenant_ref();
    Ok(list
        .data
        .into_iter()
        .find(|r| r.claim_of(&tenant).is_some_and(|(id, _)| id == claim_id)))
}

/// Send the claim to Stripe and record what Stripe says. `asked_before`: a request for it may
/// have been sent (its answer lost), so Stripe's refunds are read back first and a refund found
/// there is recorded, never asked for again; a claim just made has had no request yet.
fn ask_stripe(record: &InvoicePayment, claim: Refund, asked_before: bool) -> Result<Refund> {
    let intent = record.intent_id.clone().unwrap_or_default();
    let tenant = helpdesk::tenant_ref();
    if asked_before && let Some(found) = read_back(&intent, claim.id)? {
        return observe(record, Some(claim.id), &found, stripe_now());
    }
    let request =
        stripe_refunds::create(&intent, claim.amount.amount, &tenant, claim.id, record.id);
    let response = match stripe_send(&request) {
        Ok(response) => response,
        Err(e) if e.kind == ErrorKind::OutcomeUnknown => {
            // Stripe may have made it: look before saying anything.
            return match read_back(&intent, claim.id) {
                Ok(Some(found)) => observe(record, Some(claim.id), &found, stripe_now()),
                _ => Err(error(
                    ErrorKind::OutcomeUnknown,
                    format!(
                        "no answer from Stripe for the refund of {}; it is kept as pending and is never made twice: Stripe's events settle it, or retry it from the invoice (the same request)",
                        shown(&claim.amount)
                    ),
                )),
            };
        }
        Err(e) => {
            return Err(PluginError {
                message: format!(
                    "{}; the refund of {} is kept as pending and was not made: retry it from the invoice",
                    e.message,
                    shown(&claim.amount)
                ),
                ..e
            });
        }
    };
    match stripe::parse::<stripe_refunds::Refund>(&response) {
        Ok(made) => observe(record, Some(claim.id), &made, stripe_now()),
        Err(failure @ stripe::StripeFailure::Api { status, .. })
            if (400..500).contains(&status) && status != 429 =>
        {
            // Stripe refused it: nothing was refunded; the claim fails and frees its amount.
            let refused = super::stripe_failure(failure);
            let observation = RefundObservation {
                refund_id: None,
                record_id: Some(claim.id),
                payment_id: record.id,
                intent_id: Some(intent.clone()),
                status: RefundStatus::Failed,
                amount: claim.amount.clone(),
                failure_reason: Some(refused.message.clone()),
                observed_at: stripe_now(),
            };
            if let Err(e) = helpdesk::record_refund(&observation) {
                log(Level::Error, &format!("recording a refused refund: {e:?}"));
            }
            audit(
                record,
                "refund-failed",
                format!(
                    "Stripe refused the refund of {}: {}",
                    shown(&claim.amount),
                    refused.message
                ),
                Some(claim.amount.clone()),
            );
            Err(refused)
        }
        Err(other) => Err(super::stripe_failure(other)),
    }
}

/// The contract's status of Stripe's name (an unknown one counts as pending).
fn status_of(name: Option<&str>) -> RefundStatus {
    name.and_then(vocab::RefundStatus::from_wire_name)
        .map_or(RefundStatus::Pending, Into::into)
}

/// Record what Stripe says of `made` (a Refund of `record`'s PaymentIntent), for claim
/// `record_id` when paydesk made it, and act on a change of what is owed.
fn observe(
    record: &InvoicePayment,
    record_id: Option<i64>,
    made: &stripe_refunds::Refund,
    at: i64,
) -> Result<Refund> {
    observe_share(record, record_id, made, made.amount, at).map(|(_, held)| held)
}

/// Record `share` of Refund `made` against `record`; whether it was applied, and the refund held.
fn observe_share(
    record: &InvoicePayment,
    record_id: Option<i64>,
    made: &stripe_refunds::Refund,
    share: i64,
    at: i64,
) -> Result<(bool, Refund)> {
    let before = helpdesk::list_refunds(record.invoice_id)
        .map_err(|e| host_error("refunds", e))?
        .into_iter()
        .find(|r| {
            record_id == Some(r.id)
                || (r.payment_id == record.id && r.refund_id.as_deref() == Some(made.id.as_str()))
        })
        .map(|r| r.status);
    let observation = RefundObservation {
        refund_id: Some(made.id.clone()),
        record_id,
        payment_id: record.id,
        intent_id: made.payment_intent.as_ref().map(|i| i.id().to_string()),
        status: status_of(made.status.as_deref()),
        amount: money(share, &record.amount.currency),
        failure_reason: made.failure_reason.as_ref().map(|r| r.replace('_', " ")),
        observed_at: at,
    };
    let (applied, held) =
        helpdesk::record_refund(&observation).map_err(|e| host_error("recording the refund", e))?;
    if applied {
        match refund_owes_again(before.map(vocab::RefundStatus::from), held.status.into()) {
            Some(true) => {
                audit(
                    record,
                    "refunded",
                    format!(
                        "{} refunded ({}); the invoice owes {} of it again",
                        shown(&held.amount),
                        made.id,
                        shown(&Money {
                            amount: held.amount.amount - held.fee_part.amount,
                            currency: held.amount.currency.clone(),
                        })
                    ),
                    Some(held.amount.clone()),
                );
                tell_customer(record, &held);
            }
            Some(false) => audit(
                record,
                "refund-failed",
                format!(
                    "the refund {} of {} did not go through after all{}",
                    made.id,
                    shown(&held.amount),
                    held.failure_reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                ),
                Some(held.amount.clone()),
            ),
            None if held.status == RefundStatus::Failed => audit(
                record,
                "refund-failed",
                format!(
                    "the refund {} of {} failed{}",
                    made.id,
                    shown(&held.amount),
                    held.failure_reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                ),
                Some(held.amount.clone()),
            ),
            None => {}
        }
    }
    Ok((applied, held))
}

fn audit(record: &InvoicePayment, action: &str, reason: String, amount: Option<Money>) {
    let entry = AuditEntry {
        invoice_id: Some(record.invoice_id),
        action: action.into(),
        reason,
        amount,
    };
    if let Err(e) = helpdesk::audit(&[entry]) {
        log(Level::Error, &format!("audit trail: {e:?}"));
    }
}

/// Tell the customer that `held` (of `record`) was refunded: template 287 to the notification
/// address, CC the customer's accounts addresses, once per refund and record. Not when Stripe
/// sends its own receipts. A failure to send is logged and audited, never the refund's.
fn tell_customer(record: &InvoicePayment, held: &Refund) {
    let settings = crate::settings::get();
    if settings.use_stripe_receipt_emails {
        return;
    }
    let sent = (|| -> Result<()> {
        let invoice =
            helpdesk::get_invoice(record.invoice_id).map_err(|e| host_error("invoice", e))?;
        let customer =
            helpdesk::get_customer(invoice.customer_id).map_err(|e| host_error("customer", e))?;
        let Some((to, cc)) = recipients(
            settings.stripenotificationemail.as_deref(),
            customer.accounts_email.as_deref(),
            customer.accounts_cc_email.as_deref(),
            None,
        ) else {
            log(
                Level::Warn,
                &format!(
                    "no address to send the refund email for {} to",
                    invoice.number
                ),
            );
            return Ok(());
        };
        let invoice_part = Money {
            amount: held.amount.amount - held.fee_part.amount,
            currency: held.amount.currency.clone(),
        };
        let vars = Variables {
            invoice_numbers: vec![invoice.number.clone()],
            customer_name: customer.name.clone(),
            amount: shown(&invoice_part),
            fee: shown(&held.fee_part),
            total: shown(&held.amount),
            payment_method: record.method.clone().unwrap_or_else(|| "Stripe".into()),
            failure_reason: String::new(),
            portal_link: settings
                .portal_base_url
                .as_deref()
                .map(|base| format!("{}/portal", base.trim_end_matches('/')))
                .unwrap_or_default(),
        };
        let escaped = Variables {
            invoice_numbers: vec![escape_html(&invoice.number)],
            customer_name: escape_html(&vars.customer_name),
            amount: escape_html(&vars.amount),
            fee: escape_html(&vars.fee),
            total: escape_html(&vars.total),
            payment_method: escape_html(&vars.payment_method),
            failure_reason: String::new(),
            portal_link: escape_html(&vars.portal_link),
        };
        let template = helpdesk::get_email_template(refunds::TEMPLATE_ID)
            .map_err(|e| host_error("email template", e))?;
        let html = render(&template.body, &escaped);
        email::send(&Message {
            to,
            cc,
            subject: render(&template.subject, &vars),
            text: text_of(&html),
            html,
            dedup_key: Some(format!(
                "refund/{}/{}",
                held.refund_id.as_deref().unwrap_or("claim"),
                record.id
            )),
        })
        .map_err(|e| host_error("sending the refund email", e))?;
        Ok(())
    })();
    if let Err(e) = sent {
        emails::not_sent(std::slice::from_ref(record), "the refund email", &e);
    }
}

/// Apply a verified refund event (`charge.refunded`, `refund.*`).
pub fn received(parsed: &Event, body: &str) -> Result<EventOutcome> {
    let seen_key = format!("event/{}", parsed.id);
    if storage::lookup(&seen_key)
        .map_err(|e| host_error("storage", e))?
        .entry
        .is_some()
    {
        return Ok(EventOutcome::Duplicate);
    }
    let not_an_object = |what: &str, e: crate::json::Error| {
        error(
            ErrorKind::InvalidInput,
            format!("the event's object is not a {what}: {e}"),
        )
    };
    // A refund event carries the Refund as it was when the event was made; `charge.refunded`
    // carries the charge, whose refunds are read from Stripe (at the `Date` of that answer).
    let (intent, observed): (String, Vec<(stripe_refunds::Refund, i64)>) =
        if parsed.event_type == "charge.refunded" {
            let charge: stripe_refunds::Charge = crate::json::from_str::<Event<_>>(body)
                .map_err(|e| not_an_object("Charge", e))?
                .data
                .object;
            let Some(intent) = charge.payment_intent.as_ref().map(IdOrObject::id) else {
                return Ok(EventOutcome::Ignored(format!(
                    "charge {} names no PaymentIntent: not a payment of this helpdesk",
                    charge.id
                )));
            };
            let list: List<stripe_refunds::Refund> =
                super::stripe_call(&stripe_refunds::of_intent(intent))?;
            let at = stripe_now();
            (
                intent.to_string(),
                list.data.into_iter().map(|r| (r, at)).collect(),
            )
        } else {
            let refund: stripe_refunds::Refund = crate::json::from_str::<Event<_>>(body)
                .map_err(|e| not_an_object("Refund", e))?
                .data
                .object;
            let Some(intent) = refund.payment_intent.as_ref().map(|i| i.id().to_string()) else {
                return Ok(EventOutcome::Ignored(format!(
                    "refund {} names no PaymentIntent: not a payment of this helpdesk",
                    refund.id
                )));
            };
            (intent, vec![(refund, parsed.created)])
        };
    let records: Vec<InvoicePayment> =
        helpdesk::list_payments(&PaymentFilter::Intent(intent.clone()))
            .map_err(|e| host_error("payments", e))?
            .into_iter()
            .filter(|r| r.status == PaymentStatus::Succeeded)
            .collect();
    if records.is_empty() {
        return Ok(EventOutcome::Ignored(format!(
            "{intent} is not a succeeded payment of this helpdesk"
        )));
    }
    let tenant = helpdesk::tenant_ref();
    let mut applied = 0u32;
    let mut skipped = Vec::new();
    for (refund, at) in &observed {
        if !refund
            .currency
            .eq_ignore_ascii_case(&records[0].amount.currency)
        {
            skipped.push(format!("refund {} is in another currency", refund.id));
            continue;
        }
        match refund.claim_of(&tenant) {
            // paydesk made it: the claim names its record.
            Some((claim, payment)) => {
                let Some(record) = records.iter().find(|r| r.id == payment) else {
                    skipped.push(format!(
                        "refund {} names payment {payment}, not one of {intent}",
                        refund.id
                    ));
                    continue;
                };
                match observe_share(record, Some(claim), refund, refund.amount, *at) {
                    Ok((true, _)) => applied += 1,
                    Ok((false, _)) => {}
                    Err(e) => skipped.push(format!("refund {}: {}", refund.id, e.message)),
                }
            }
            // Made in Stripe's dashboard: shared among the intent's records in order, each up to
            // what it paid (one record for a payment of one invoice).
            None => {
                let paid: Vec<i64> = records
                    .iter()
                    .map(|r| r.amount.amount.saturating_add(r.fee.amount))
                    .collect();
                let Some(shares) = crate::domain::disputes::shares(refund.amount, &paid) else {
                    skipped.push(format!(
                        "refund {} of {} is more than its payment paid",
                        refund.id, refund.amount
                    ));
                    continue;
                };
                for (record, share) in records.iter().zip(shares) {
                    if share == 0 {
                        continue;
                    }
                    match observe_share(record, None, refund, share, *at) {
                        Ok((true, _)) => applied += 1,
                        Ok((false, _)) => {}
                        Err(e) => skipped.push(format!("refund {}: {}", refund.id, e.message)),
                    }
                }
            }
        }
    }
    if applied == 0 && !skipped.is_empty() {
        // Nothing applied and something could not be: said, and retried on Stripe's next delivery.
        return Ok(EventOutcome::Ignored(skipped.join("; ")));
    }
    // Seen only once applied: a delivery that failed half-way is applied again on Stripe's retry.
    let _ = storage::put_new(&seen_key, parsed.created.to_string().as_bytes());
    Ok(if applied == 0 {
        EventOutcome::Stale
    } else {
        EventOutcome::Applied(applied)
    })
}
