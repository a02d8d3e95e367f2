//! Settle only what was paid. An intent Stripe reports is applied to a payment group's records
//! only if it is their own intent, or — their intent creation got no answer, so they have no
//! intent id yet — it names their group and its amount, currency and Stripe customer are exactly
//! what they expect. Its success settles them only when `amount_received` (in the intent's
//! currency) covers Σ(amount + fee) of the group. Anything else is an anomaly, kept on the records
//! and never applied. Pure: the flows gather the facts and report the anomaly.

use super::money::{Currency, Money};

/// What Stripe says of the intent.
#[derive(Debug, Clone, Copy)]
pub struct IntentFacts<'a> {
    pub id: &'a str,
    /// Stripe's status name (`succeeded`, …), for the reason.
    pub status: &'a str,
    pub amount: i64,
    pub amount_received: i64,
    pub currency: &'a str,
    pub customer: Option<&'a str>,
}

/// What the group's records expect.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The records' own intent, once known.
    pub intent_id: Option<&'a str>,
    /// Σ(amount + fee) of the group's records; `None` when it does not add up (overflow).
    pub total: Option<i64>,
    pub currency: &'a str,
    /// The Stripe customer the invoices' customer is mapped to.
    pub customer: Option<&'a str>,
}

/// Why an intent must not be applied (or must not settle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// The records have their own intent, and this is another one.
    ForeignIntent { own: String },
    /// The records have no intent yet and this one names their group, but differs (amount,
    /// currency, customer — each difference said).
    NotTheGroupsIntent { differences: Vec<String> },
    /// It succeeded, but what arrived does not cover what the records expect.
    Underpaid,
}

/// Whether `intent` may be applied to the group expecting `expected`; `settles`: the status to
/// apply is success (the invoice would be marked paid).
pub fn check(
    intent: &IntentFacts<'_>,
    expected: &Expected<'_>,
    settles: bool,
) -> Result<(), Mismatch> {
    match expected.intent_id {
        Some(own) if own != intent.id => {
            return Err(Mismatch::ForeignIntent {
                own: own.to_string(),
            });
        }
        Some(_) => {}
        None => {
            let mut differences = Vec::new();
            let same_currency = intent.currency.eq_ignore_ascii_case(expected.currency);
            if !same_currency {
                differences.push(format!(
                    "its currency {} is not the expected {}",
                    intent.currency.to_ascii_uppercase(),
                    expected.currency.to_ascii_uppercase()
                ));
            }
            if expected.total != Some(intent.amount) {
                differences.push(format!(
                    "its amount {} is not the expected {}",
                    shown(Some(intent.amount), intent.currency),
                    shown(expected.total, expected.currency)
                ));
            }
            if intent.customer.is_none() || intent.customer != expected.customer {
                differences.push(format!(
                    "its customer {} is not the invoices' Stripe customer {}",
                    intent.customer.unwrap_or("(none)"),
                    expected.customer.unwrap_or("(none)")
                ));
            }
            if !differences.is_empty() {
                return Err(Mismatch::NotTheGroupsIntent { differences });
            }
        }
    }
    if settles {
        let covered = intent.currency.eq_ignore_ascii_case(expected.currency)
            && expected
                .total
                .is_some_and(|total| intent.amount_received >= total);
        if !covered {
            return Err(Mismatch::Underpaid);
        }
    }
    Ok(())
}

/// An amount for people (`USD 205.80`), or the bare figure when the currency is unknown.
fn shown(amount: Option<i64>, currency: &str) -> String {
    match (amount, Currency::parse(currency)) {
        (Some(a), Ok(c)) => Money::new(a, c).to_string(),
        (Some(a), Err(_)) => format!("{} {a}", currency.to_ascii_uppercase()),
        (None, _) => "(an amount too large to add up)".to_string(),
    }
}

/// The audit reason of an anomaly on payment record `payment`: it starts `payment {id}: ` (the
/// host reads the record from it, [`payment_of_reason`]), names the intent, what was expected and
/// what was received, and is the same for the same intent, status and record, so a redelivered
/// event is the same anomaly.
pub fn reason(
    payment: i64,
    intent: &IntentFacts<'_>,
    expected: &Expected<'_>,
    mismatch: &Mismatch,
) -> String {
    let received = shown(Some(intent.amount_received), intent.currency);
    let wanted = shown(expected.total, expected.currency);
    let what = match mismatch {
        Mismatch::ForeignIntent { own } => format!(
            "Stripe reported intent {} ({}, {received} received) for this payment's group, but the payment's own intent is {own} (expecting {wanted})",
            intent.id, intent.status
        ),
        Mismatch::NotTheGroupsIntent { differences } => format!(
            "intent {} ({}, {received} received) names this payment's group (expecting {wanted}), but {}",
            intent.id,
            intent.status,
            differences.join(", ")
        ),
        Mismatch::Underpaid => format!(
            "intent {} succeeded with {received} received, but {wanted} was expected",
            intent.id
        ),
    };
    format!("{PREFIX}{payment}: {what}; not applied, the invoice is not settled")
}

const PREFIX: &str = "payment ";

/// The payment record an anomaly's reason is about (see [`reason`]).
pub fn payment_of_reason(reason: &str) -> Option<i64> {
    let rest = reason.strip_prefix(PREFIX)?;
    let (id, _) = rest.split_once(':')?;
    id.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent<'a>(id: &'a str, amount: i64, received: i64) -> IntentFacts<'a> {
        IntentFacts {
            id,
            status: "succeeded",
            amount,
            amount_received: received,
            currency: "usd",
            customer: Some("cus_1"),
        }
    }

    fn expected(intent_id: Option<&str>, total: i64) -> Expected<'_> {
        Expected {
            intent_id,
            total: Some(total),
            currency: "usd",
            customer: Some("cus_1"),
        }
    }

    #[test]
    fn the_own_intent_paid_in_full_settles() {
        let own = expected(Some("pi_own"), 20_580);
        assert_eq!(check(&intent("pi_own", 20_580, 20_580), &own, true), Ok(()));
        // More than expected still covers it.
        assert_eq!(check(&intent("pi_own", 20_580, 20_600), &own, true), Ok(()));
    }

    #[test]
    fn another_intent_naming_the_group_is_never_applied() {
        let own = expected(Some("pi_own"), 20_580);
        for settles in [true, false] {
            assert_eq!(
                check(&intent("pi_foreign", 20_580, 20_580), &own, settles),
                Err(Mismatch::ForeignIntent {
                    own: "pi_own".into()
                })
            );
        }
    }

    #[test]
    fn an_intent_whose_amount_was_lowered_does_not_settle() {
        let own = expected(Some("pi_own"), 20_580);
        assert_eq!(
            check(&intent("pi_own", 100, 100), &own, true),
            Err(Mismatch::Underpaid)
        );
        // Its other states still apply (they settle nothing).
        assert_eq!(check(&intent("pi_own", 100, 0), &own, false), Ok(()));
    }

    #[test]
    fn received_in_another_currency_does_not_settle() {
        let own = expected(Some("pi_own"), 1_000);
        let mut jpy = intent("pi_own", 1_000, 1_000);
        jpy.currency = "jpy";
        assert_eq!(check(&jpy, &own, true), Err(Mismatch::Underpaid));
        jpy.currency = "USD";
        assert_eq!(check(&jpy, &own, true), Ok(()));
    }

    #[test]
    fn a_lost_answer_is_resolved_only_by_the_exact_intent() {
        let lost = expected(None, 20_580);
        assert_eq!(check(&intent("pi_x", 20_580, 20_580), &lost, true), Ok(()));
        assert_eq!(check(&intent("pi_x", 20_580, 0), &lost, false), Ok(()));
        let Err(Mismatch::NotTheGroupsIntent { differences }) =
            check(&intent("pi_x", 100, 100), &lost, true)
        else {
            panic!("a different amount is not the group's intent");
        };
        assert_eq!(
            differences,
            vec!["its amount USD 1.00 is not the expected USD 205.80".to_string()]
        );
        let mut elsewhere = intent("pi_x", 20_580, 20_580);
        elsewhere.customer = Some("cus_2");
        assert!(matches!(
            check(&elsewhere, &lost, true),
            Err(Mismatch::NotTheGroupsIntent { .. })
        ));
        elsewhere.customer = None;
        assert!(check(&elsewhere, &lost, false).is_err());
        let mut eur = intent("pi_x", 20_580, 20_580);
        eur.currency = "eur";
        assert!(check(&eur, &lost, false).is_err());
    }

    #[test]
    fn records_that_do_not_add_up_never_settle() {
        let mut own = expected(Some("pi_own"), 0);
        own.total = None;
        assert_eq!(
            check(&intent("pi_own", i64::MAX, i64::MAX), &own, true),
            Err(Mismatch::Underpaid)
        );
    }

    #[test]
    fn the_reason_names_the_payment_intent_and_amounts_and_is_read_back() {
        let own = expected(Some("pi_own"), 20_580);
        let pi = intent("pi_own", 100, 100);
        let reason = reason(42, &pi, &own, &Mismatch::Underpaid);
        assert!(reason.starts_with("payment 42: "), "{reason}");
        for part in ["pi_own", "USD 1.00", "USD 205.80"] {
            assert!(reason.contains(part), "{reason} lacks {part}");
        }
        assert_eq!(payment_of_reason(&reason), Some(42));
        let foreign = super::reason(
            7,
            &intent("pi_foreign", 20_580, 20_580),
            &own,
            &Mismatch::ForeignIntent {
                own: "pi_own".into(),
            },
        );
        assert!(
            foreign.contains("pi_foreign") && foreign.contains("pi_own"),
            "{foreign}"
        );
        assert_eq!(payment_of_reason(&foreign), Some(7));
        for other in ["", "payment x: y", "charge 3: z", "payment 3"] {
            assert_eq!(payment_of_reason(other), None, "{other}");
        }
    }
}
