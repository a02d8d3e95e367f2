//! paydesk's test harness: the services the end-to-end tests run against (localstripe, aiosmtpd),
//! a recording proxy in front of Stripe, the Stripe OpenAPI request validator, a webhook signer
//! that signs as Stripe does, [`host::TestHost`], a paydesk app on a temporary database, and the
//! suite-wide secret sweep ([`sweep`] collects what paydesk showed, [`secret_scan`] checks it).

pub mod browser;
pub mod fake_stripe;
pub mod host;
pub mod logs;
pub mod recorder;
pub mod secret_scan;
pub mod services;
pub mod stripe_spec;
pub mod sweep;
pub mod webhook;

/// The abusive guest component built by `build.rs`.
pub static ABUSIVE_WASM: &[u8] = include_bytes!(env!("PAYDESK_ABUSIVE_WASM"));
