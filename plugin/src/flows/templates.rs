//! Template variables the plugin renders: `$-PAYMENTMETHOD`, the customer's
//! automatic payment method or exactly `No automatic payment setup`.

use super::{Result, host_error};
use crate::bindings::paydesk::stripe::helpdesk;

pub const PAYMENT_METHOD: &str = "$-PAYMENTMETHOD";
pub const NO_METHOD: &str = "No automatic payment setup";

/// The names this plugin renders.
pub fn variables() -> Vec<String> {
    vec![PAYMENT_METHOD.to_string()]
}

/// The value of `name` for `customer`; none when the name is not the plugin's.
pub fn render_variable(name: &str, customer: i64) -> Result<Option<String>> {
    if name != PAYMENT_METHOD {
        return Ok(None);
    }
    let c = helpdesk::get_customer(customer).map_err(|e| host_error("customer", e))?;
    Ok(Some(
        match (c.stripe_payment_method_id, c.stripe_payment_method_name) {
            (Some(_), Some(name)) if !name.is_empty() => name,
            (Some(id), _) => id,
            _ => NO_METHOD.to_string(),
        },
    ))
}
