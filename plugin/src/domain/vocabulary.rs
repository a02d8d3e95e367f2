//! The vocabulary every part of paydesk speaks: payment method types, payment statuses, dispute
//! statuses, invoice statuses and invoice access levels — each written once below as a table of (variant, wire
//! name, label). The wire name is what is stored and sent (Stripe's name where Stripe has one); the
//! label is what people read. Pure: no I/O and no knowledge of the WIT bindings.
//!
//! Each enum has `ALL` (in the order of the table), `wire_name()`, `from_wire_name()`, `label()`
//! and `short_label()` (the label unless the row gives a shorter one for lists of choices), and
//! displays as its wire name. The WIT contract has an enum of the same name and variants for each;
//! [`wit_vocabulary!`](crate::wit_vocabulary) writes the `From` conversions both ways for a set of
//! generated bindings, so a binding's enum never needs a `match` of its own.
//!
//! Adding a payment method type: one row in the table below (its wire name and label). The WIT
//! variant `payment-method-type` is open (`other(string)` carries any type its line doesn't list), so
//! a new row is given a case of its own only in the next breaking line of the contract; until then it
//! travels as `other` with its wire name ([`wit_open_vocabulary!`](crate::wit_open_vocabulary)).

/// The rows of one vocabulary enum, handed to the macro `$then` (with `$args` in front). The only
/// place the rows are written; `vocabulary_enum` turns them into the enum and its names, and
/// `wit_vocabulary!` into conversions.
#[doc(hidden)]
#[macro_export]
macro_rules! __vocabulary_rows {
    (PaymentMethodType, $then:ident!($($args:tt)*)) => {
        $crate::$then! { ($($args)*)
            /// Stripe payment method types the integration knows, in the order
            /// the setup page lists them. The wire name is Stripe's.
            PaymentMethodType {
                Card = "card", "Card";
                UsBankAccount = "us_bank_account", "US bank account";
                AcssDebit = "acss_debit", "Canadian pre-authorized debit" ("ACSS debit");
                SepaDebit = "sepa_debit", "SEPA Debit";
                BacsDebit = "bacs_debit", "Bacs Direct Debit";
                AuBecsDebit = "au_becs_debit", "BECS Direct Debit";
                Link = "link", "Link";
            }
        }
    };
    (PaymentStatus, $then:ident!($($args:tt)*)) => {
        $crate::$then! { ($($args)*)
            /// A payment record's status: its PaymentIntent's, as `domain::payment_state` moves it.
            /// The wire name is Stripe's word for the state.
            PaymentStatus {
                RequiresPaymentMethod = "requires_payment_method", "requires payment method";
                RequiresAction = "requires_action", "requires action";
                Processing = "processing", "processing";
                Succeeded = "succeeded", "succeeded";
                Failed = "failed", "failed";
                Canceled = "canceled", "canceled";
            }
        }
    };
    (DisputeStatus, $then:ident!($($args:tt)*)) => {
        $crate::$then! { ($($args)*)
            /// Where a dispute of a payment stands (Stripe's dispute `status`), as
            /// `domain::payment_state` moves it. The `warning_*` ones are inquiries (no money has
            /// left yet). The wire name is Stripe's.
            DisputeStatus {
                WarningNeedsResponse = "warning_needs_response", "inquiry, needs response";
                WarningUnderReview = "warning_under_review", "inquiry, under review";
                WarningClosed = "warning_closed", "inquiry closed";
                NeedsResponse = "needs_response", "needs response";
                UnderReview = "under_review", "under review";
                Won = "won", "won";
                Lost = "lost", "lost";
            }
        }
    };
    (RefundStatus, $then:ident!($($args:tt)*)) => {
        $crate::$then! { ($($args)*)
            /// Where a refund of a payment stands (Stripe's Refund `status`), as
            /// `domain::payment_state` moves it. The wire name is Stripe's.
            RefundStatus {
                Pending = "pending", "pending";
                RequiresAction = "requires_action", "waiting for the customer";
                Succeeded = "succeeded", "refunded";
                Failed = "failed", "failed";
                Canceled = "canceled", "canceled";
            }
        }
    };
    (InvoiceStatus, $then:ident!($($args:tt)*)) => {
        $crate::$then! { ($($args)*)
            /// An invoice's status.
            InvoiceStatus {
                /// Issued, not (fully) paid.
                AwaitingPayment = "awaiting_payment", "Awaiting payment";
                Paid = "paid", "Paid";
                /// Cancelled; never charged.
                Void = "void", "Void";
            }
        }
    };
    (InvoiceAccessLevel, $then:ident!($($args:tt)*)) => {
        $crate::$then! { ($($args)*)
            /// Which invoices of their customer a portal user sees (the helpdesk's "Invoice Access
            /// Level"); the rule is [`super::access::user_sees_invoice`].
            InvoiceAccessLevel {
                /// No invoices; the area is hidden.
                None = "none", "None";
                /// Invoices addressed to the user.
                AddressedToUser = "own", "Their own invoices";
                /// Every invoice of the user's customer.
                Customer = "customer", "All of their customer's invoices";
            }
        }
    };
}

/// One vocabulary enum from its rows: the enum, `ALL`, its names and labels.
#[doc(hidden)]
#[macro_export]
macro_rules! __vocabulary_enum {
    (() $(#[$meta:meta])* $name:ident {
        $( $(#[$vmeta:meta])* $variant:ident = $wire:literal, $label:literal $(($short:literal))?; )+
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in the order of the vocabulary's table.
            pub const ALL: [$name; [$(stringify!($variant)),+].len()] = [$($name::$variant),+];

            /// The name stored and sent (`card`, `requires_action`, `awaiting_payment`, `own`).
            pub fn wire_name(self) -> &'static str {
                match self {
                    $( $name::$variant => $wire, )+
                }
            }

            /// The value whose wire name is `name`, if there is one.
            pub fn from_wire_name(name: &str) -> Option<$name> {
                match name {
                    $( $wire => Some($name::$variant), )+
                    _ => None,
                }
            }

            /// The name people read (`SEPA Debit`, `Awaiting payment`, `Their own invoices`).
            pub fn label(self) -> &'static str {
                match self {
                    $( $name::$variant => $label, )+
                }
            }

            /// The label where choices are listed side by side (the setup page's checkboxes):
            /// the label, unless the table gives a shorter one.
            pub fn short_label(self) -> &'static str {
                match self {
                    $( $name::$variant => $crate::__vocabulary_first!($($short)? $label), )+
                }
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.wire_name())
            }
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __vocabulary_first {
    ($first:literal $($rest:literal)*) => {
        $first
    };
}

/// `From` conversions both ways between the vocabulary's enums and the same-named enums of a set
/// of generated WIT bindings (the plugin's and the host's): name each enum with the bindings' type.
///
/// ```text
/// paydesk_plugin::wit_vocabulary! {
///     PaymentMethodType => crate::bindings::PaymentMethodType,
///     PaymentStatus => crate::bindings::PaymentStatus,
/// }
/// ```
///
/// The bindings' variants are matched by name, so a variant the contract lacks (or adds) is a
/// compile error here rather than a silent fallback.
#[macro_export]
macro_rules! wit_vocabulary {
    ($($name:ident => $wit:ty),+ $(,)?) => {
        $( $crate::__vocabulary_rows!($name, __vocabulary_wit!($wit)); )+
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __vocabulary_wit {
    (($wit:ty) $(#[$meta:meta])* $name:ident {
        $( $(#[$vmeta:meta])* $variant:ident = $wire:literal, $label:literal $(($short:literal))?; )+
    }) => {
        impl ::core::convert::From<$wit> for $crate::domain::vocabulary::$name {
            fn from(w: $wit) -> Self {
                type W = $wit;
                match w {
                    $( W::$variant => $crate::domain::vocabulary::$name::$variant, )+
                }
            }
        }

        impl ::core::convert::From<$crate::domain::vocabulary::$name> for $wit {
            fn from(d: $crate::domain::vocabulary::$name) -> Self {
                type W = $wit;
                match d {
                    $( $crate::domain::vocabulary::$name::$variant => W::$variant, )+
                }
            }
        }
    };
}

/// Conversions for an *open* vocabulary of the contract: a WIT variant with a case per row and one
/// more (`other(string)`, Stripe's name of a value the contract's line doesn't list). `From` the
/// vocabulary's enum to the binding, and `TryFrom` the binding back, which hands back a value that
/// has no row (so the caller can name it in its refusal). A binding whose type is still a closed enum
/// (an older line) gets the same conversions; its `TryFrom` then never fails.
///
/// ```text
/// paydesk_plugin::wit_open_vocabulary! {
///     PaymentMethodType => crate::bindings::PaymentMethodType,
/// }
/// ```
#[macro_export]
macro_rules! wit_open_vocabulary {
    ($($name:ident => $wit:ty),+ $(,)?) => {
        $( $crate::__vocabulary_rows!($name, __vocabulary_wit_open!($wit)); )+
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __vocabulary_wit_open {
    (($wit:ty) $(#[$meta:meta])* $name:ident {
        $( $(#[$vmeta:meta])* $variant:ident = $wire:literal, $label:literal $(($short:literal))?; )+
    }) => {
        impl ::core::convert::TryFrom<$wit> for $crate::domain::vocabulary::$name {
            type Error = $wit;
            fn try_from(w: $wit) -> ::core::result::Result<Self, $wit> {
                type W = $wit;
                #[allow(unreachable_patterns)]
                match w {
                    $( W::$variant => Ok($crate::domain::vocabulary::$name::$variant), )+
                    other => Err(other),
                }
            }
        }

        impl ::core::convert::From<$crate::domain::vocabulary::$name> for $wit {
            fn from(d: $crate::domain::vocabulary::$name) -> Self {
                type W = $wit;
                match d {
                    $( $crate::domain::vocabulary::$name::$variant => W::$variant, )+
                }
            }
        }
    };
}

__vocabulary_rows!(PaymentMethodType, __vocabulary_enum!());
__vocabulary_rows!(PaymentStatus, __vocabulary_enum!());
__vocabulary_rows!(DisputeStatus, __vocabulary_enum!());
__vocabulary_rows!(RefundStatus, __vocabulary_enum!());
__vocabulary_rows!(InvoiceStatus, __vocabulary_enum!());
__vocabulary_rows!(InvoiceAccessLevel, __vocabulary_enum!());

impl PaymentMethodType {
    /// Bank debits settle over days: they pass through `processing`.
    pub fn is_bank_debit(self) -> bool {
        !matches!(self, PaymentMethodType::Card | PaymentMethodType::Link)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T: Copy + PartialEq + std::fmt::Debug>(
        all: &[T],
        wire: fn(T) -> &'static str,
        parse: fn(&str) -> Option<T>,
    ) {
        for &v in all {
            assert_eq!(parse(wire(v)), Some(v));
        }
        let mut names: Vec<_> = all.iter().map(|&v| wire(v)).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len(), "wire names are distinct");
        assert_eq!(parse("bitcoin"), None);
    }

    #[test]
    fn wire_names_round_trip() {
        round_trips(
            &PaymentMethodType::ALL,
            PaymentMethodType::wire_name,
            PaymentMethodType::from_wire_name,
        );
        round_trips(
            &PaymentStatus::ALL,
            PaymentStatus::wire_name,
            PaymentStatus::from_wire_name,
        );
        round_trips(
            &DisputeStatus::ALL,
            DisputeStatus::wire_name,
            DisputeStatus::from_wire_name,
        );
        round_trips(
            &RefundStatus::ALL,
            RefundStatus::wire_name,
            RefundStatus::from_wire_name,
        );
        round_trips(
            &InvoiceStatus::ALL,
            InvoiceStatus::wire_name,
            InvoiceStatus::from_wire_name,
        );
        round_trips(
            &InvoiceAccessLevel::ALL,
            InvoiceAccessLevel::wire_name,
            InvoiceAccessLevel::from_wire_name,
        );
    }

    #[test]
    fn names_and_labels_are_the_ones_stored_and_shown() {
        assert_eq!(PaymentMethodType::ALL.len(), 7);
        assert_eq!(PaymentMethodType::AuBecsDebit.wire_name(), "au_becs_debit");
        assert_eq!(PaymentMethodType::SepaDebit.to_string(), "sepa_debit");
        assert_eq!(
            PaymentMethodType::AcssDebit.label(),
            "Canadian pre-authorized debit"
        );
        assert_eq!(PaymentMethodType::AcssDebit.short_label(), "ACSS debit");
        assert_eq!(PaymentMethodType::Card.short_label(), "Card");
        assert_eq!(
            PaymentStatus::RequiresPaymentMethod.label(),
            "requires payment method"
        );
        assert_eq!(InvoiceStatus::AwaitingPayment.label(), "Awaiting payment");
        assert_eq!(InvoiceAccessLevel::AddressedToUser.wire_name(), "own");
    }

    #[test]
    fn payment_status_labels_are_the_wire_names_in_words() {
        for s in PaymentStatus::ALL {
            assert_eq!(s.label(), s.wire_name().replace('_', " "));
        }
    }

    #[test]
    fn bank_debits_are_the_types_that_settle_over_days() {
        let debits: Vec<_> = PaymentMethodType::ALL
            .into_iter()
            .filter(|t| t.is_bank_debit())
            .collect();
        assert_eq!(
            debits,
            [
                PaymentMethodType::UsBankAccount,
                PaymentMethodType::AcssDebit,
                PaymentMethodType::SepaDebit,
                PaymentMethodType::BacsDebit,
                PaymentMethodType::AuBecsDebit,
            ]
        );
    }
}
