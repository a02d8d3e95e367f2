//! The record vocabulary as the database stores it: each contract enum by its wire name from the
//! domain's one table (`paydesk_plugin::domain::vocabulary`), and read back with the fallback the
//! schema has always had for a name it does not know.

use paydesk_plugin::domain::vocabulary as v;

use crate::contract::{
    DisputeStatus, InvoiceAccessLevel, InvoiceStatus, PaymentMethodType, PaymentStatus,
    RefundStatus,
};

pub fn access_level_name(l: InvoiceAccessLevel) -> &'static str {
    v::InvoiceAccessLevel::from(l).wire_name()
}

/// An unknown level shows nothing.
pub(super) fn access_level(s: &str) -> InvoiceAccessLevel {
    v::InvoiceAccessLevel::from_wire_name(s).map_or(InvoiceAccessLevel::None, Into::into)
}

pub fn invoice_status_name(s: InvoiceStatus) -> &'static str {
    v::InvoiceStatus::from(s).wire_name()
}

pub(super) fn invoice_status(s: &str) -> InvoiceStatus {
    v::InvoiceStatus::from_wire_name(s).map_or(InvoiceStatus::AwaitingPayment, Into::into)
}

pub fn payment_status_name(s: PaymentStatus) -> &'static str {
    v::PaymentStatus::from(s).wire_name()
}

pub(super) fn payment_status(s: &str) -> PaymentStatus {
    v::PaymentStatus::from_wire_name(s).map_or(PaymentStatus::RequiresPaymentMethod, Into::into)
}

/// Stripe's name of a payment method type: its wire name, or the name an `other` carries.
pub fn method_type_name(t: &PaymentMethodType) -> String {
    match v::PaymentMethodType::try_from(t.clone()) {
        Ok(known) => known.wire_name().to_string(),
        Err(PaymentMethodType::Other(name)) => name,
        Err(unlisted) => format!("{unlisted:?}"),
    }
}

/// Stripe's name of a dispute status: its wire name, or the name an `other` carries.
pub fn dispute_status_name(s: &DisputeStatus) -> String {
    match v::DisputeStatus::try_from(s.clone()) {
        Ok(known) => known.wire_name().to_string(),
        Err(DisputeStatus::Other(name)) => name,
        Err(unlisted) => format!("{unlisted:?}"),
    }
}

/// A stored dispute status: its case, or `other` with Stripe's name.
pub fn dispute_status(s: &str) -> DisputeStatus {
    v::DisputeStatus::from_wire_name(s)
        .map_or_else(|| DisputeStatus::Other(s.to_string()), Into::into)
}

/// The vocabulary's view of a dispute status (`None` for one it has no row for).
pub fn dispute_vocab(s: &DisputeStatus) -> Option<v::DisputeStatus> {
    v::DisputeStatus::try_from(s.clone()).ok()
}

pub fn refund_status_name(s: RefundStatus) -> &'static str {
    v::RefundStatus::from(s).wire_name()
}

/// A stored refund status; one this vocabulary has no row for (none is ever written) reads as
/// pending, which the state rule lets any observation replace.
pub fn refund_status(s: &str) -> RefundStatus {
    v::RefundStatus::from_wire_name(s).map_or(RefundStatus::Pending, Into::into)
}
