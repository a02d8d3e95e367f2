//! The plugin's pure logic: plain functions over plain types, unit-tested natively. Nothing here
//! imports the WIT bindings or does I/O; `flows` feeds it data read through the host.

pub mod fees;
pub mod money;
pub mod types;
