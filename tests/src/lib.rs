//! paydesk's test harness: the services the end-to-end tests run against (localstripe, aiosmtpd),
//! a recording proxy in front of Stripe, the Stripe OpenAPI request validator, a webhook signer
//! that signs as Stripe does, [`host::TestHost`], a paydesk app on a temporary database, and the
//! suite-wide secret sweep ([`sweep`] collects what paydesk showed, [`secret_scan`] checks it).

pub mod browser;
pub mod fake_stripe;
pub mod host;
pub mod logs;
pub mod postgres;
pub mod recorder;
pub mod secret_scan;
pub mod services;
pub mod signin;
pub mod stripe_spec;
pub mod sweep;
pub mod webhook;

/// How long a test waits for something that is going to happen — a page element, an email, a
/// webhook, an outbox drained: a bound against hanging for ever, not an expectation of speed. A
/// wait ends as soon as its event happens, so a generous bound costs nothing when the machine is
/// quick, and a loaded machine (two suites at once on two cores) doesn't fail a test by being slow.
pub const EVENT_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// The abusive guest component built by `build.rs`.
pub static ABUSIVE_WASM: &[u8] = include_bytes!(env!("PAYDESK_ABUSIVE_WASM"));
