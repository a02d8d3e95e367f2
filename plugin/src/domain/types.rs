//! Small domain vocabulary shared by the pure modules: payment method types by their Stripe names.
//! No I/O and no knowledge of the WIT bindings.

use std::fmt;

/// Stripe payment method types the integration knows (REQUIREMENTS M4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PaymentMethodType {
    Card,
    UsBankAccount,
    AcssDebit,
    SepaDebit,
    BacsDebit,
    AuBecsDebit,
    Link,
}

impl PaymentMethodType {
    /// Every known type, in the order the setup page lists them.
    pub const ALL: [PaymentMethodType; 7] = [
        PaymentMethodType::Card,
        PaymentMethodType::UsBankAccount,
        PaymentMethodType::AcssDebit,
        PaymentMethodType::SepaDebit,
        PaymentMethodType::BacsDebit,
        PaymentMethodType::AuBecsDebit,
        PaymentMethodType::Link,
    ];

    /// Stripe's name (`card`, `sepa_debit`, …).
    pub fn stripe_name(self) -> &'static str {
        match self {
            PaymentMethodType::Card => "card",
            PaymentMethodType::UsBankAccount => "us_bank_account",
            PaymentMethodType::AcssDebit => "acss_debit",
            PaymentMethodType::SepaDebit => "sepa_debit",
            PaymentMethodType::BacsDebit => "bacs_debit",
            PaymentMethodType::AuBecsDebit => "au_becs_debit",
            PaymentMethodType::Link => "link",
        }
    }

    /// The type Stripe calls `name`, if we know it.
    pub fn from_stripe_name(name: &str) -> Option<PaymentMethodType> {
        Self::ALL.into_iter().find(|t| t.stripe_name() == name)
    }

    /// Bank debits settle over days: they pass through `processing`.
    pub fn is_bank_debit(self) -> bool {
        !matches!(self, PaymentMethodType::Card | PaymentMethodType::Link)
    }
}

impl fmt::Display for PaymentMethodType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.stripe_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_names_round_trip() {
        for t in PaymentMethodType::ALL {
            assert_eq!(
                PaymentMethodType::from_stripe_name(t.stripe_name()),
                Some(t)
            );
        }
        assert_eq!(PaymentMethodType::from_stripe_name("bitcoin"), None);
    }
}
