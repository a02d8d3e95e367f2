//! paydesk's test harness: the services the end-to-end tests run against (localstripe, aiosmtpd),
//! a recording proxy in front of Stripe, the Stripe OpenAPI request validator, a webhook signer
//! that signs as Stripe does, and [`host::TestHost`], a paydesk app on a temporary database.

pub mod browser;
pub mod fake_stripe;
pub mod host;
pub mod logs;
pub mod recorder;
pub mod services;
pub mod stripe_spec;
pub mod webhook;

/// The abusive guest component built by `build.rs`.
pub static ABUSIVE_WASM: &[u8] = include_bytes!(env!("PAYDESK_ABUSIVE_WASM"));
