//! The plugin's pure logic: plain functions over plain types, unit-tested natively. Nothing here
//! imports the WIT bindings or does I/O; `flows` feeds it data read through the host.

pub mod access;
pub mod autopay;
pub mod caps;
pub mod card_expiry;
pub mod display;
pub mod disputes;
pub mod emails;
pub mod fees;
pub mod hash;
pub mod lease;
pub mod limits;
pub mod mapping;
pub mod money;
pub mod parts;
pub mod payment_state;
pub mod refunds;
pub mod settings;
pub mod settlement;
pub mod stripe_side;
// `#[macro_use]`: `wit_vocabulary!` is in scope, by name, for the modules declared after `domain`.
#[macro_use]
pub mod vocabulary;
