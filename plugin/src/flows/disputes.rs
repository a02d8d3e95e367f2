//! Disputes of payments (`charge.dispute.created`, `.updated`, `.closed`): the dispute is found by
//! its PaymentIntent's succeeded payment records, its amount shared among them
//! (`domain::disputes::shares`), and recorded beside each by the host (`helpdesk.record-dispute`),
//! which applies the state machine's rule (`domain::payment_state`) and, for a lost dispute, makes
//! the amount owed again in the same transaction. The payment records themselves never move: their
//! money arrived. The notification address is told once per dispute while it is open (the outbox's
//! unique dedup key `dispute-opened/{id}`); each applied change is in the invoice's audit trail.
//! An event is applied once (`event/{id}` in storage, as for payment events).

use super::{Result, emails, error, host_error, log};
use crate::bindings::exports::paydesk::stripe::events::EventOutcome;
use crate::bindings::paydesk::stripe::email::{self, Message};
use crate::bindings::paydesk::stripe::helpdesk::{
    self, AuditEntry, Dispute as HeldDispute, DisputeObservation, DisputeStatus, InvoicePayment,
    PaymentFilter, PaymentStatus,
};
use crate::bindings::paydesk::stripe::log::Level;
use crate::bindings::paydesk::stripe::storage;
use crate::bindings::paydesk::stripe::types::{ErrorKind, HostError, Money};
use crate::domain::disputes::{self, Opened, reason_words};
use crate::domain::emails::text_of;
use crate::domain::money::MinorUnits;
use crate::domain::vocabulary as vocab;
use crate::stripe::IdOrObject;
use crate::stripe::disputes::Dispute;
use crate::stripe::events::Event;

/// The contract's status of Stripe's name: its case, or `other` with the name.
fn status_of(name: &str) -> DisputeStatus {
    vocab::DisputeStatus::from_wire_name(name)
        .map_or_else(|| DisputeStatus::Other(name.to_string()), Into::into)
}

/// The vocabulary's view of a held status (`None`: one it has no row for).
fn known(s: &DisputeStatus) -> Option<vocab::DisputeStatus> {
    vocab::DisputeStatus::try_from(s.clone()).ok()
}

/// Apply a verified `charge.dispute.*` event (`body` is its JSON, `parsed` its envelope).
pub fn received(parsed: &Event, body: &str) -> Result<EventOutcome> {
    let seen_key = format!("event/{}", parsed.id);
    if storage::lookup(&seen_key)
        .map_err(|e| host_error("storage", e))?
        .entry
        .is_some()
    {
        return Ok(EventOutcome::Duplicate);
    }
    let d: Dispute = crate::json::from_str::<Event<Dispute>>(body)
        .map_err(|e| {
            error(
                ErrorKind::InvalidInput,
                format!("the event's object is not a Dispute: {e}"),
            )
        })?
        .data
        .object;
    let Some(intent) = d.payment_intent.as_ref().map(IdOrObject::id) else {
        return Ok(EventOutcome::Ignored(format!(
            "dispute {} names no PaymentIntent: not a payment of this helpdesk",
            d.id
        )));
    };
    // Only a charge that succeeded can be disputed: the records whose money arrived.
    let records: Vec<InvoicePayment> =
        helpdesk::list_payments(&PaymentFilter::Intent(intent.to_string()))
            .map_err(|e| host_error("payments", e))?
            .into_iter()
            .filter(|r| r.status == PaymentStatus::Succeeded)
            .collect();
    if records.is_empty() {
        return Ok(EventOutcome::Ignored(format!(
            "dispute {} is of {intent}, not a succeeded payment of this helpdesk",
            d.id
        )));
    }
    if let Some(r) = records
        .iter()
        .find(|r| !r.amount.currency.eq_ignore_ascii_case(&d.currency))
    {
        return Ok(EventOutcome::Ignored(format!(
            "dispute {} is in {}, its payment in {}: not applied",
            d.id, d.currency, r.amount.currency
        )));
    }
    let mut paid = Vec::with_capacity(records.len());
    for r in &records {
        let total = MinorUnits(r.amount.amount)
            .checked_add(MinorUnits(r.fee.amount))
            .map_err(|_| error(ErrorKind::Internal, format!("payment {} overflows", r.id)))?;
        paid.push(total.0);
    }
    let Some(shares) = disputes::shares(d.amount, &paid) else {
        return Ok(EventOutcome::Ignored(format!(
            "dispute {} of {} is more than its payment paid: not applied",
            d.id, d.amount
        )));
    };
    let status = status_of(&d.status);
    let mut applied = 0u32;
    let mut open = false;
    for (record, share) in records.iter().zip(shares) {
        let observation = DisputeObservation {
            id: d.id.clone(),
            payment_id: record.id,
            charge_id: d.charge.id().to_string(),
            intent_id: Some(intent.to_string()),
            status: status.clone(),
            reason: d.reason.clone(),
            amount: Money {
                amount: share,
                currency: record.amount.currency.clone(),
            },
            evidence_due_by: d.evidence_due_by(),
            opened_at: d.created,
            observed_at: parsed.created,
            event_id: Some(parsed.id.clone()),
        };
        let (was_applied, held) = match helpdesk::record_dispute(&observation) {
            Ok(answer) => answer,
            // A host that keeps no disputes: the event is done with, saying so.
            Err(HostError::Denied(why)) => return Ok(EventOutcome::Ignored(why)),
            Err(e) => return Err(host_error("recording the dispute", e)),
        };
        if was_applied {
            applied += 1;
            audit(record, &held);
        }
        open |= !known(&held.status).is_some_and(vocab::DisputeStatus::is_closed);
    }
    if open {
        tell_opened(&d, &records);
    }
    // Seen only once applied: a delivery that failed half-way is applied again on Stripe's retry.
    let _ = storage::put_new(&seen_key, parsed.created.to_string().as_bytes());
    Ok(if applied == 0 {
        EventOutcome::Stale
    } else {
        EventOutcome::Applied(applied)
    })
}

/// The invoice's audit trail: what the dispute is now, and for a lost one that it is owed again.
fn audit(record: &InvoicePayment, held: &HeldDispute) {
    let status = known(&held.status);
    let words = status.map_or_else(|| format!("{:?}", held.status), |s| s.label().to_string());
    let mut reason = format!(
        "dispute {} of payment {} is {words} (reason: {})",
        held.id,
        record.intent_id.as_deref().unwrap_or("?"),
        reason_words(&held.reason)
    );
    if status == Some(vocab::DisputeStatus::Lost) {
        reason.push_str(
            "; the disputed amount is owed again and the invoice is not charged automatically again",
        );
    }
    let entry = AuditEntry {
        invoice_id: Some(record.invoice_id),
        action: "dispute".into(),
        reason,
        amount: Some(held.amount.clone()),
    };
    if let Err(e) = helpdesk::audit(&[entry]) {
        log(Level::Error, &format!("audit trail: {e:?}"));
    }
}

/// Tell the notification address that dispute `d` of `records` opened. Once per dispute, however
/// many events and deliveries: the outbox's dedup key `dispute-opened/{id}` is unique in the host's
/// database. A failure to send is logged and audited (`email-not-sent`), never the event's.
fn tell_opened(d: &Dispute, records: &[InvoicePayment]) {
    let settings = crate::settings::get();
    let Some(to) = emails::address(settings.stripenotificationemail.as_deref()) else {
        log(
            Level::Warn,
            &format!(
                "no notification address to tell that dispute {} opened",
                d.id
            ),
        );
        return;
    };
    let sent = (|| -> Result<()> {
        let mut numbers = Vec::new();
        let mut customer = String::new();
        for r in records {
            let invoice =
                helpdesk::get_invoice(r.invoice_id).map_err(|e| host_error("invoice", e))?;
            if customer.is_empty() {
                customer = helpdesk::get_customer(invoice.customer_id)
                    .map_err(|e| host_error("customer", e))?
                    .name;
            }
            numbers.push(invoice.number);
        }
        let (subject, html) = disputes::opened_email(&Opened {
            dispute_id: &d.id,
            status: vocab::DisputeStatus::from_wire_name(&d.status),
            reason: &d.reason,
            amount: d.amount,
            currency: &d.currency,
            evidence_due_by: d.evidence_due_by(),
            invoices: &numbers,
            customer: &customer,
        });
        email::send(&Message {
            to: vec![to.to_string()],
            cc: Vec::new(),
            subject,
            text: text_of(&html),
            html,
            dedup_key: Some(format!("dispute-opened/{}", d.id)),
        })
        .map_err(|e| host_error("sending the dispute email", e))?;
        Ok(())
    })();
    if let Err(e) = sent {
        emails::not_sent(records, "the dispute email", &e);
    }
}
