//! Creating a PaymentIntent exactly once, for every payment path: a 429 or 5xx is
//! retried with the same idempotency key; an answer lost on the way back (the request may have
//! been processed) is resolved by asking Stripe for the group's intent — listing the customer's
//! intents, which is strongly consistent — and the request is sent again (same key) only when
//! Stripe has none. And a request that moves an existing intent (a cancel, a confirm) read back as
//! the intent, whatever Stripe said ([`move_intent`]).

use super::{Result, stripe_call, stripe_failure, stripe_send};
use crate::bindings::paydesk::stripe::types::{ErrorKind, PluginError};
use crate::stripe::payment_intents::{self, PaymentIntent};
use crate::stripe::{self, List, StripeFailure};

/// Tries before giving up on an answer.
const TRIES: u32 = 3;

/// What creating an intent came to.
pub enum Created {
    /// Stripe's intent (made now, or found after a lost answer).
    Intent(Box<PaymentIntent>),
    /// The payment method was refused (or needs authentication); Stripe's intent if it said.
    Declined {
        intent: Option<Box<PaymentIntent>>,
        message: String,
        code: Option<String>,
    },
    /// No answer, and Stripe could not be asked: resolve later, never by a new key.
    Unknown(String),
    /// Stripe refused the request itself; nothing was made.
    Refused(PluginError),
}

/// The intent of payment group `group` among `customer`'s intents, if Stripe has one.
pub fn find_intent(customer: &str, group: &str) -> Result<Option<PaymentIntent>> {
    let mut after: Option<String> = None;
    for _ in 0..20 {
        let page: List<PaymentIntent> = stripe_call(&payment_intents::list_for_customer(
            customer,
            after.as_deref(),
        ))?;
        if let Some(pi) = page.data.iter().find(|pi| pi.group() == Some(group)) {
            return Ok(Some(pi.clone()));
        }
        after = page.data.last().map(|p| p.id.clone());
        if !page.has_more || after.is_none() {
            break;
        }
    }
    Ok(None)
}

/// Send `request`, which moves intent `id` (a cancel, a confirm), and return the intent: as Stripe
/// answers, or — when Stripe refuses (a decline; it moved on meanwhile, confirmed in another tab) —
/// as it now is.
pub fn move_intent(request: &stripe::Request, id: &str) -> Result<PaymentIntent> {
    let response = stripe_send(request)?;
    match stripe::parse(&response) {
        Ok(pi) => Ok(pi),
        Err(StripeFailure::Api { .. }) => stripe_call(&payment_intents::retrieve(id)),
        Err(other) => Err(stripe_failure(other)),
    }
}

/// Send `request` (a create with the group's idempotency key) so that at most one intent results.
pub fn create_once(request: &stripe::Request, customer: &str, group: &str) -> Created {
    for _ in 0..TRIES {
        let response = match stripe_send(request) {
            Ok(r) if r.status == 429 || r.status >= 500 => {
                // Stripe asks us to slow down (or failed): wait as it says, at most a few seconds.
                let wait = r.retry_after.unwrap_or(1).min(5);
                std::thread::sleep(std::time::Duration::from_secs(u64::from(wait)));
                continue;
            }
            Ok(r) => r,
            Err(e)
                if matches!(
                    e.kind,
                    ErrorKind::OutcomeUnknown | ErrorKind::StripeUnavailable
                ) =>
            {
                match find_intent(customer, group) {
                    Ok(Some(pi)) => return Created::Intent(Box::new(pi)),
                    Ok(None) => continue,
                    Err(_) => return Created::Unknown(e.message),
                }
            }
            Err(e) => return Created::Refused(e),
        };
        return match stripe::parse::<PaymentIntent>(&response) {
            Ok(pi) => Created::Intent(Box::new(pi)),
            Err(StripeFailure::Api {
                status,
                error: body,
                request_id,
            }) => {
                let intent = payment_intents::declined_intent(&response.body).map(Box::new);
                if status == 402
                    || body.error_type.as_deref() == Some("card_error")
                    || intent.is_some()
                {
                    Created::Declined {
                        intent,
                        message: body
                            .message
                            .clone()
                            .unwrap_or_else(|| "the payment was declined".into()),
                        code: body.decline_code.clone().or_else(|| body.code.clone()),
                    }
                } else {
                    Created::Refused(stripe_failure(StripeFailure::Api {
                        status,
                        error: body,
                        request_id,
                    }))
                }
            }
            Err(other) => Created::Refused(stripe_failure(other)),
        };
    }
    match find_intent(customer, group) {
        Ok(Some(pi)) => Created::Intent(Box::new(pi)),
        _ => Created::Unknown(format!("Stripe did not answer after {TRIES} tries")),
    }
}
