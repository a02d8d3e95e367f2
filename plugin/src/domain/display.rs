//! Display names of payment methods, as agents and payers see them (`Visa ending 4242, expires
//! 12/2030`, `SEPA Debit ending 3000`). Pure: takes the fields Stripe returns, does no I/O.

use super::vocabulary::PaymentMethodType;

/// The fields of a Stripe payment method a display name is made of.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MethodDetails {
    /// Card brand as Stripe names it (`visa`, `mastercard`, `amex`, …).
    pub brand: Option<String>,
    pub last4: Option<String>,
    pub exp_month: Option<u32>,
    pub exp_year: Option<u32>,
    /// Bank name (US bank accounts, ACSS).
    pub bank_name: Option<String>,
    /// Email (Link).
    pub email: Option<String>,
}

fn brand_name(brand: &str) -> String {
    match brand {
        "amex" => "American Express".into(),
        "diners" => "Diners Club".into(),
        "discover" => "Discover".into(),
        "eftpos_au" => "eftpos Australia".into(),
        "jcb" => "JCB".into(),
        "mastercard" => "Mastercard".into(),
        "unionpay" => "UnionPay".into(),
        "visa" => "Visa".into(),
        "cartes_bancaires" => "Cartes Bancaires".into(),
        other => {
            let mut chars = other.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => "Card".into(),
            }
        }
    }
}

/// A payment method's display name.
pub fn display_name(t: PaymentMethodType, d: &MethodDetails) -> String {
    let ending = d
        .last4
        .as_deref()
        .map(|l| format!(" ending {l}"))
        .unwrap_or_default();
    match t {
        PaymentMethodType::Card => {
            let brand = d
                .brand
                .as_deref()
                .map_or_else(|| "Card".to_string(), brand_name);
            let expiry = match (d.exp_month, d.exp_year) {
                (Some(m), Some(y)) => format!(", expires {m:02}/{y}"),
                _ => String::new(),
            };
            format!("{brand}{ending}{expiry}")
        }
        PaymentMethodType::UsBankAccount | PaymentMethodType::AcssDebit => match &d.bank_name {
            Some(bank) => format!("{bank}{ending}"),
            None => format!("{}{ending}", t.label()),
        },
        PaymentMethodType::Link => match &d.email {
            Some(email) => format!("Link ({email})"),
            None => "Link".into(),
        },
        PaymentMethodType::SepaDebit
        | PaymentMethodType::BacsDebit
        | PaymentMethodType::AuBecsDebit => {
            format!("{}{ending}", t.label())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards_show_brand_last4_and_expiry() {
        let d = MethodDetails {
            brand: Some("visa".into()),
            last4: Some("4242".into()),
            exp_month: Some(12),
            exp_year: Some(2030),
            ..Default::default()
        };
        assert_eq!(
            display_name(PaymentMethodType::Card, &d),
            "Visa ending 4242, expires 12/2030"
        );
        let amex = MethodDetails {
            brand: Some("amex".into()),
            last4: Some("0005".into()),
            exp_month: Some(3),
            exp_year: Some(2031),
            ..Default::default()
        };
        assert_eq!(
            display_name(PaymentMethodType::Card, &amex),
            "American Express ending 0005, expires 03/2031"
        );
    }

    #[test]
    fn debits_show_their_scheme_and_last4() {
        let d = MethodDetails {
            last4: Some("3000".into()),
            ..Default::default()
        };
        assert_eq!(
            display_name(PaymentMethodType::SepaDebit, &d),
            "SEPA Debit ending 3000"
        );
        let bank = MethodDetails {
            bank_name: Some("STRIPE TEST BANK".into()),
            last4: Some("6789".into()),
            ..Default::default()
        };
        assert_eq!(
            display_name(PaymentMethodType::UsBankAccount, &bank),
            "STRIPE TEST BANK ending 6789"
        );
    }
}
