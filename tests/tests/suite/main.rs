//! paydesk's end-to-end suite: the real component in the real host against localstripe, Stripe's
//! OpenAPI description and a real SMTP server. One binary; one module per concern; helpers live in
//! the `paydesk_tests` library.

mod authz;
mod autopay;
mod autopay_caps;
mod bank_debits;
mod browser;
mod card_reminders;
mod clock;
mod concurrency;
mod connect;
mod contract_lines;
mod disputes;
mod documents;
mod faults;
mod fees;
mod flowback;
mod harness;
mod isolation;
mod lifecycle;
mod limits;
mod metrics;
mod openapi;
mod part_payments;
mod payments;
mod plugin_registry;
mod refunds;
mod restricted_keys;
mod sandbox;
mod settle;
mod signin;
mod stripe_calls;
mod tenant_limits;
mod told;
