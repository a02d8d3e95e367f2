//! The shared vocabulary ([`paydesk_plugin::domain::vocabulary`]: payment method types, payment
//! and invoice statuses, invoice access levels, each with its wire name and label) meets the
//! contract's enums of the same names: the `From` conversions both ways, written by the
//! vocabulary's own macro from its one table, so the web side names, labels and parses them only
//! through it. The conversions hold crate-wide; their place is beside the generated bindings, and
//! they move there (and this file goes) when the bindings get their ground-floor module.

paydesk_plugin::wit_vocabulary! {
    PaymentMethodType => crate::runtime::bindings::PaymentMethodType,
    PaymentStatus => crate::runtime::bindings::PaymentStatus,
    InvoiceStatus => crate::runtime::bindings::InvoiceStatus,
    InvoiceAccessLevel => crate::runtime::bindings::InvoiceAccessLevel,
}
