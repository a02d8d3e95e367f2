//! The wire names of the record vocabulary as the SQLite schema stores them: invoice access levels,
//! invoice and payment statuses, payment-method types; and reading them back.

use crate::contract::{InvoiceAccessLevel, InvoiceStatus, PaymentMethodType, PaymentStatus};

pub fn access_level_name(l: InvoiceAccessLevel) -> &'static str {
    match l {
        InvoiceAccessLevel::None => "none",
        InvoiceAccessLevel::AddressedToUser => "own",
        InvoiceAccessLevel::Customer => "customer",
    }
}

pub(super) fn access_level(s: &str) -> InvoiceAccessLevel {
    match s {
        "own" => InvoiceAccessLevel::AddressedToUser,
        "customer" => InvoiceAccessLevel::Customer,
        _ => InvoiceAccessLevel::None,
    }
}

pub fn invoice_status_name(s: InvoiceStatus) -> &'static str {
    match s {
        InvoiceStatus::AwaitingPayment => "awaiting_payment",
        InvoiceStatus::Paid => "paid",
        InvoiceStatus::Void => "void",
    }
}

pub(super) fn invoice_status(s: &str) -> InvoiceStatus {
    match s {
        "paid" => InvoiceStatus::Paid,
        "void" => InvoiceStatus::Void,
        _ => InvoiceStatus::AwaitingPayment,
    }
}

pub fn payment_status_name(s: PaymentStatus) -> &'static str {
    match s {
        PaymentStatus::RequiresPaymentMethod => "requires_payment_method",
        PaymentStatus::RequiresAction => "requires_action",
        PaymentStatus::Processing => "processing",
        PaymentStatus::Succeeded => "succeeded",
        PaymentStatus::Failed => "failed",
        PaymentStatus::Canceled => "canceled",
    }
}

pub(super) fn payment_status(s: &str) -> PaymentStatus {
    match s {
        "requires_action" => PaymentStatus::RequiresAction,
        "processing" => PaymentStatus::Processing,
        "succeeded" => PaymentStatus::Succeeded,
        "failed" => PaymentStatus::Failed,
        "canceled" => PaymentStatus::Canceled,
        _ => PaymentStatus::RequiresPaymentMethod,
    }
}

pub fn method_type_name(t: PaymentMethodType) -> &'static str {
    match t {
        PaymentMethodType::Card => "card",
        PaymentMethodType::UsBankAccount => "us_bank_account",
        PaymentMethodType::AcssDebit => "acss_debit",
        PaymentMethodType::SepaDebit => "sepa_debit",
        PaymentMethodType::BacsDebit => "bacs_debit",
        PaymentMethodType::AuBecsDebit => "au_becs_debit",
        PaymentMethodType::Link => "link",
    }
}
