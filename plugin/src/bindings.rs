//! The WIT contract as Rust: the generated bindings of the `plugin` world, and the conversions
//! between its vocabulary enums and `domain::vocabulary`'s (by variant name:
//! `vocab::PaymentStatus::from(wit)`, `wit::PaymentStatus::from(domain)`, and for the open
//! `payment-method-type` [`known_type`]). The component's ground floor above `domain`: `flows`, the
//! glue and [`crate::settings`] use it, and it uses nothing of the crate but the vocabulary.
//!
//! By default the bindings are of the current contract, `paydesk:stripe@0.2.0` (`wit/`), world
//! `plugin-with-extras` (the plugin's exports and the optional `reminders`, `charges` and `debits`). With the
//! feature `contract-v0_1` they are of the frozen 0.1 line (`wit/since_v0.1/`), with the imports
//! 0.2 added written here on top of 0.1's (`http.send-dated` answers without Stripe's `Date`,
//! `storage.lookup` is `storage.get`, `helpdesk.get-autopay-cap` is none,
//! `helpdesk.create-part-payment` is refused, `helpdesk.record-dispute` is denied and
//! `helpdesk.list-disputes` empty), so the flows are the
//! same code for both; the host's tests
//! load that build to prove a host runs plugins of both lines.

#[cfg(not(feature = "contract-v0_1"))]
wit_bindgen::generate!({
    path: "../wit",
    world: "plugin-with-extras",
    additional_derives: [PartialEq],
});

#[cfg(feature = "contract-v0_1")]
pub mod generated {
    wit_bindgen::generate!({
        path: "../wit/since_v0.1",
        world: "plugin",
        additional_derives: [PartialEq],
    });
}

/// The 0.1 line's interfaces, with 0.2's additions to `http` and `storage` written on 0.1's imports.
#[cfg(feature = "contract-v0_1")]
pub mod paydesk {
    pub mod stripe {
        pub use super::super::generated::paydesk::stripe::{email, log, types};

        pub mod helpdesk {
            pub use crate::bindings::generated::paydesk::stripe::helpdesk::*;

            /// 0.2's `get-autopay-cap`: a 0.1 host keeps no caps of customers, so none.
            pub fn get_autopay_cap(
                _customer: i64,
            ) -> Result<Option<super::types::Money>, super::types::HostError> {
                Ok(None)
            }

            /// 0.2's `create-part-payment`: never called on a 0.1 host (its plugins export no
            /// `charges`); refused if it were.
            pub fn create_part_payment(
                _payment: &NewPayment,
                _amount_due: i64,
            ) -> Result<InvoicePayment, super::types::HostError> {
                Err(super::types::HostError::Denied(
                    "a 0.1 host takes no part payments".into(),
                ))
            }

            /// 0.2's `dispute-status`.
            #[derive(Debug, Clone, PartialEq)]
            pub enum DisputeStatus {
                WarningNeedsResponse,
                WarningUnderReview,
                WarningClosed,
                NeedsResponse,
                UnderReview,
                Won,
                Lost,
                Other(String),
            }

            /// 0.2's `dispute`.
            #[derive(Debug, Clone, PartialEq)]
            pub struct Dispute {
                pub id: String,
                pub payment_id: i64,
                pub invoice_id: i64,
                pub charge_id: String,
                pub intent_id: Option<String>,
                pub status: DisputeStatus,
                pub reason: String,
                pub amount: super::types::Money,
                pub evidence_due_by: Option<i64>,
                pub opened_at: i64,
                pub observed_at: i64,
                pub last_event_id: Option<String>,
                pub updated_at: i64,
            }

            /// 0.2's `dispute-observation`.
            #[derive(Debug, Clone, PartialEq)]
            pub struct DisputeObservation {
                pub id: String,
                pub payment_id: i64,
                pub charge_id: String,
                pub intent_id: Option<String>,
                pub status: DisputeStatus,
                pub reason: String,
                pub amount: super::types::Money,
                pub evidence_due_by: Option<i64>,
                pub opened_at: i64,
                pub observed_at: i64,
                pub event_id: Option<String>,
            }

            /// 0.2's `record-dispute`: a 0.1 host keeps no disputes, so it is denied (the event
            /// is then ignored, saying so).
            pub fn record_dispute(
                _observation: &DisputeObservation,
            ) -> Result<(bool, Dispute), super::types::HostError> {
                Err(super::types::HostError::Denied(
                    "this helpdesk (contract 0.1) keeps no disputes".into(),
                ))
            }

            /// 0.2's `list-disputes`: a 0.1 host keeps none.
            pub fn list_disputes(_invoice: i64) -> Result<Vec<Dispute>, super::types::HostError> {
                Ok(Vec::new())
            }

            /// 0.2's `refund-status`.
            #[derive(Debug, Clone, Copy, PartialEq, Eq)]
            pub enum RefundStatus {
                Pending,
                RequiresAction,
                Succeeded,
                Failed,
                Canceled,
            }

            /// 0.2's `refund`.
            #[derive(Debug, Clone, PartialEq)]
            pub struct Refund {
                pub id: i64,
                pub payment_id: i64,
                pub invoice_id: i64,
                pub refund_id: Option<String>,
                pub intent_id: Option<String>,
                pub status: RefundStatus,
                pub amount: super::types::Money,
                pub fee_part: super::types::Money,
                pub failure_reason: Option<String>,
                pub agent_id: Option<i64>,
                pub observed_at: Option<i64>,
                pub created_at: i64,
                pub updated_at: i64,
            }

            /// 0.2's `list-refunds`: a 0.1 host keeps none.
            pub fn list_refunds(_invoice: i64) -> Result<Vec<Refund>, super::types::HostError> {
                Ok(Vec::new())
            }

            /// 0.2's `customer-lookup`.
            pub enum CustomerLookup {
                StripeCustomer(String),
                AutomaticPaymentMethod(String),
            }

            /// 0.2's `find-customers`: a 0.1 host has no lookup, so its customers are read page by
            /// page (at most 100 found, as 0.2 bounds it).
            pub fn find_customers(
                lookup: &CustomerLookup,
            ) -> Result<Vec<Customer>, super::types::HostError> {
                let mut found = Vec::new();
                let mut after = None;
                loop {
                    let page = list_customers(after, 500)?;
                    let Some(last) = page.last() else {
                        return Ok(found);
                    };
                    after = Some(last.id);
                    found.extend(page.into_iter().filter(|c| match lookup {
                        CustomerLookup::StripeCustomer(id) => {
                            c.stripe_customer_id.as_ref() == Some(id)
                        }
                        CustomerLookup::AutomaticPaymentMethod(pm) => {
                            c.stripe_payment_method_id.as_ref() == Some(pm)
                        }
                    }));
                    if found.len() >= 100 {
                        found.truncate(100);
                        return Ok(found);
                    }
                }
            }

            /// 0.2's `observe-automatic-payment-method`: a 0.1 host keeps no observation times, so
            /// the write holds `only-if` by reading first and orders nothing.
            pub fn observe_automatic_payment_method(
                id: i64,
                method: Option<(&str, &str)>,
                _observed_at: i64,
                only_if: Option<&str>,
            ) -> Result<bool, super::types::HostError> {
                if let Some(pm) = only_if
                    && get_customer(id)?.stripe_payment_method_id.as_deref() != Some(pm)
                {
                    return Ok(false);
                }
                set_automatic_payment_method(id, method).map(|()| true)
            }
        }

        pub mod http {
            pub use crate::bindings::generated::paydesk::stripe::http::*;

            /// 0.2's `dated-response`.
            pub struct DatedResponse {
                pub response: Response,
                /// Always none: a 0.1 host gives no Stripe clock.
                pub date: Option<i64>,
            }

            /// 0.2's `send-dated`: a 0.1 host has no Stripe clock, so what was read counts as older
            /// than any event (0.2's documentation of `send-dated`).
            pub fn send_dated(request: &Request) -> Result<DatedResponse, SendError> {
                send(request).map(|response| DatedResponse {
                    response,
                    date: None,
                })
            }
        }

        pub mod storage {
            pub use crate::bindings::generated::paydesk::stripe::storage::*;

            /// 0.2's `lookup-result`.
            pub struct LookupResult {
                pub entry: Option<Entry>,
            }

            /// 0.2's `lookup`: `get`, in 0.2's shape.
            pub fn lookup(key: &str) -> Result<LookupResult, super::types::HostError> {
                get(key).map(|entry| LookupResult { entry })
            }
        }
    }
}

#[cfg(feature = "contract-v0_1")]
pub use generated::exports;

wit_vocabulary! {
    PaymentStatus => paydesk::stripe::helpdesk::PaymentStatus,
    InvoiceStatus => paydesk::stripe::helpdesk::InvoiceStatus,
    InvoiceAccessLevel => paydesk::stripe::helpdesk::InvoiceAccessLevel,
    RefundStatus => paydesk::stripe::helpdesk::RefundStatus,
}

wit_open_vocabulary! {
    PaymentMethodType => paydesk::stripe::types::PaymentMethodType,
    DisputeStatus => paydesk::stripe::helpdesk::DisputeStatus,
}

use crate::domain::vocabulary as vocab;
use paydesk::stripe::types::{ErrorKind, PaymentMethodType, PluginError};

/// The payment method type `t` names, when this plugin knows it: an `other` name it has a row for
/// counts as that row; any other is refused as `invalid-input`, naming it.
pub fn known_type(t: PaymentMethodType) -> Result<vocab::PaymentMethodType, PluginError> {
    vocab::PaymentMethodType::try_from(t).or_else(|unknown| {
        let name = other_name(&unknown);
        vocab::PaymentMethodType::from_wire_name(&name).ok_or_else(|| PluginError {
            kind: ErrorKind::InvalidInput,
            message: format!("this plugin does not support the payment method type `{name}`"),
            field_errors: Vec::new(),
            stripe: None,
        })
    })
}

/// The Stripe name of a type that has no row of the vocabulary.
#[cfg(not(feature = "contract-v0_1"))]
fn other_name(t: &PaymentMethodType) -> String {
    match t {
        PaymentMethodType::Other(name) => name.clone(),
        known => vocab::PaymentMethodType::try_from(known.clone())
            .map(|v| v.wire_name().to_string())
            .unwrap_or_default(),
    }
}

/// 0.1's enum has a row for every case: nothing is unknown.
#[cfg(feature = "contract-v0_1")]
fn other_name(t: &PaymentMethodType) -> String {
    format!("{t:?}")
}
