//! Taking over an attempt whose run died (its claim's lease has passed): find what it did in
//! Stripe and settle it, make it now with the same idempotency key, or rule it out.

use super::attempt::{attempt_charge, settle};
use super::claims::{Claim, claim_key, encode};
use super::{audit, result};
use crate::bindings::exports::paydesk::stripe::events::AutopayResult;
use crate::bindings::paydesk::stripe::helpdesk::{
    self, Customer, Invoice, PaymentFilter, PaymentStatus,
};
use crate::bindings::paydesk::stripe::storage;
use crate::domain::lease::lease_until;
use crate::flows::intents::find_intent;
use crate::flows::outcomes::{apply_intent, apply_to_group};
use crate::flows::records::Observation;
use crate::flows::{Result, host_error, now, stripe_now};
use crate::settings::Settings;

/// Take over a claim whose lease ran out: find its intent in Stripe and apply it. If Stripe never
/// made one, the attempt is made now with the same idempotency key when that cannot race its own
/// ruling-out: it never wrote its records, or they are all still open without an intent and this
/// request's lease ends before reconciliation may rule them out (a day after they were written,
/// within Stripe's idempotency window, so a late first request and this one are one charge).
/// Otherwise Stripe's "none" is final — whatever the attempt sent went out under a lease that has
/// run out — so it is cancelled and never sent again: a resend after reconciliation cancelled its
/// records would charge on records that no longer count, and the next attempt would charge again
/// (found by the protocol model). The retry policy makes the next attempt.
pub(super) fn resume(
    invoice: &Invoice,
    customer: &Customer,
    attempt: u32,
    mut claim: Claim,
    version: u64,
    settings: &Settings,
) -> Result<AutopayResult> {
    let key = claim_key(invoice.id, attempt);
    claim.lease_until = lease_until(now(), settings.autopay_claim_lease_seconds);
    let bytes = encode(&claim)?;
    let Ok(version) = storage::compare_and_swap(&key, version, &bytes).map(|v| v.max(version + 1))
    else {
        return Ok(result(
            invoice,
            None,
            format!("attempt {attempt} is being resolved by another run"),
        ));
    };
    let stripe_customer = customer.stripe_customer_id.clone().unwrap_or_default();
    match find_intent(&stripe_customer, &claim.group)? {
        Some(pi) => {
            audit(
                invoice,
                "resolved",
                &format!(
                    "attempt {attempt}: its payment {} was found in Stripe",
                    pi.id
                ),
                None,
            );
            let records = apply_intent(&pi, Observation::read(stripe_now()))?;
            settle(invoice, attempt, claim, version, &records)
        }
        None => {
            let written = helpdesk::list_payments(&PaymentFilter::Group(claim.group.clone()))
                .map_err(|e| host_error("payments", e))?;
            let lease_ends = lease_until(now(), settings.autopay_claim_lease_seconds);
            let still_open = written.iter().all(|r| {
                r.status == PaymentStatus::RequiresPaymentMethod
                    && r.intent_id.is_none()
                    && lease_ends
                        < r.created_at
                            .saturating_add(crate::flows::reconcile::ruled_out_after(r))
            });
            if still_open {
                audit(
                    invoice,
                    "resume",
                    &format!("attempt {attempt} never reached Stripe; making it now"),
                    None,
                );
                return attempt_charge(invoice, customer, attempt, claim, version, settings);
            }
            audit(
                invoice,
                "resolved",
                &format!("attempt {attempt}: Stripe never made this payment; it is not sent again"),
                None,
            );
            let records = apply_to_group(
                &claim.group,
                None,
                PaymentStatus::Canceled,
                Observation::failed(stripe_now(), "Stripe never made this payment".into(), None),
            )?;
            settle(invoice, attempt, claim, version, &records)
        }
    }
}
