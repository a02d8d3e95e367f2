//! The contract as Rust types: the generated bindings of the `plugin` world (`wit/`), on the ground
//! floor so storage, capabilities and the runtime all use them without depending on each other.
//! Every `bindgen!` option for the plugin world in one place. Imports are trappable: a host function
//! returns `wasmtime::Result<T>`, whose `Err` traps the guest (host bug or guest abuse), while the WIT
//! `result` inside is a value the plugin handles.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    imports: { default: trappable },
    additional_derives: [PartialEq],
});

pub use paydesk::stripe::helpdesk::{
    Agent, AuditEntry, Customer, EmailTemplate, Initiator, Invoice, InvoiceAccessLevel,
    InvoiceFilter, InvoiceLine, InvoicePayment, InvoiceStatus, NewPayment, PaymentFilter,
    PaymentStatus, PaymentUpdate, User,
};
pub use paydesk::stripe::types::{
    ErrorKind, FeeRule, HostError, KeyInfo, KeyKind, KeyMode, Money, PaymentMethodType,
    PluginError, Setting, SettingValue, Settings,
};

// The contract's enums that the domain's vocabulary defines once (wire names, labels): `From` both
// ways, matched by variant name (a mismatch does not compile).
paydesk_plugin::wit_vocabulary! {
    PaymentStatus => PaymentStatus,
    InvoiceStatus => InvoiceStatus,
    InvoiceAccessLevel => InvoiceAccessLevel,
}

// The open vocabulary (`other(string)` for a type the contract's line doesn't list): `From` the
// domain's enum, `TryFrom` back (handing back what has no row).
paydesk_plugin::wit_open_vocabulary! {
    PaymentMethodType => PaymentMethodType,
}
