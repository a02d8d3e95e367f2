//! The WIT contract `paydesk:stripe@0.2.0` as Rust: the generated bindings of the `plugin` world,
//! and the conversions between its vocabulary enums and `domain::vocabulary`'s (by variant name:
//! `vocab::PaymentMethodType::from(wit)`, `wit::PaymentStatus::from(domain)`). The component's
//! ground floor above `domain`: `flows` and the glue use it, and it uses nothing of the crate but
//! the vocabulary.

wit_bindgen::generate!({
    path: "../wit",
    world: "plugin",
});

crate::wit_vocabulary! {
    PaymentMethodType => paydesk::stripe::types::PaymentMethodType,
    PaymentStatus => paydesk::stripe::helpdesk::PaymentStatus,
    InvoiceStatus => paydesk::stripe::helpdesk::InvoiceStatus,
    InvoiceAccessLevel => paydesk::stripe::helpdesk::InvoiceAccessLevel,
}
