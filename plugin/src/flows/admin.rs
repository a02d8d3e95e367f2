//! Admin flows: checking the connection to Stripe.

use super::{Result, stripe_call};
use crate::bindings::exports::paydesk::stripe::admin::AccountSummary;
use crate::bindings::paydesk::stripe::helpdesk;
use crate::bindings::paydesk::stripe::types::KeyMode;
use crate::stripe::{List, customers};

/// A real call with the key the host holds for this call: list one customer.
pub fn test_connection() -> Result<AccountSummary> {
    let _: List<customers::Customer> = stripe_call(&customers::list(None, 1))?;
    let livemode = helpdesk::get_settings()
        .secret_key
        .is_some_and(|k| k.mode == KeyMode::Live);
    Ok(AccountSummary {
        account_id: None,
        livemode,
    })
}
