//! Stripe's amount limits (REQUIREMENTS R2, B5): the smallest and the largest amount one
//! PaymentIntent may be for, per currency, checked on the total that would be sent (amounts due
//! plus fees of every invoice paid together) before anything goes to Stripe; and the bound on an
//! invoice's own lines, so that no sum paydesk makes of them can overflow. Pure: no I/O, no floats.
//!
//! Source of the figures: Stripe's "Minimum and maximum charge amounts"
//! (<https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts>) and the description
//! of `amount` on PaymentIntent create in Stripe's OpenAPI description (API 2023-08-16): "The
//! minimum amount is $0.50 US or equivalent in charge currency. The amount value supports up to
//! eight digits (e.g., a value of 99999999 for a USD charge of $999,999.99)."

use std::fmt;

use super::fees::Quote;
use super::money::{Currency, MinorUnits, Money};

/// Stripe's published minimum charge per currency, in that currency's minor units as Stripe counts
/// them (`jpy` 50 is ¥50, `huf` 17500 is HUF 175.00).
///
/// Stripe states these for the settlement currency; paydesk applies them to the currency of the
/// charge, which is the account's own currency in the usual case. For a currency not listed here
/// Stripe publishes no figure of its own: its minimum is "USD 0.50 or the equivalent", which
/// depends on the exchange rate on the day, so paydesk checks only that the charge is positive
/// (and within the maximum); Stripe may still refuse a tiny charge with `amount_too_small`, and
/// that refusal is reported as Stripe's.
pub const MINIMUM_CHARGES: &[(&str, i64)] = &[
    ("usd", 50),    // USD 0.50
    ("aed", 200),   // AED 2.00
    ("aud", 50),    // AUD 0.50
    ("bgn", 100),   // BGN 1.00
    ("brl", 50),    // BRL 0.50
    ("cad", 50),    // CAD 0.50
    ("chf", 50),    // CHF 0.50
    ("czk", 1500),  // CZK 15.00
    ("dkk", 250),   // DKK 2.50
    ("eur", 50),    // EUR 0.50
    ("gbp", 30),    // GBP 0.30
    ("hkd", 400),   // HKD 4.00
    ("huf", 17500), // HUF 175.00
    ("inr", 50),    // INR 0.50
    ("jpy", 50),    // JPY 50
    ("mxn", 1000),  // MXN 10.00
    ("myr", 200),   // MYR 2.00
    ("nok", 300),   // NOK 3.00
    ("nzd", 50),    // NZD 0.50
    ("pln", 200),   // PLN 2.00
    ("ron", 200),   // RON 2.00
    ("sek", 300),   // SEK 3.00
    ("sgd", 50),    // SGD 0.50
    ("thb", 1000),  // THB 10.00
];

/// The largest amount of one PaymentIntent, in every currency: eight digits of minor units.
pub const MAXIMUM_CHARGE: MinorUnits = MinorUnits(99_999_999);

/// The most one line of an invoice may be, either sign (minor units): ten thousand of Stripe's
/// largest charges.
pub const MAX_LINE_AMOUNT: i64 = 1_000_000_000_000;

/// The most lines one invoice may have.
pub const MAX_LINES: usize = 100;

/// The most the lines of an invoice may add up to, either sign, after every line: what
/// [`MAX_LINES`] lines of [`MAX_LINE_AMOUNT`] come to, so an invoice within those two bounds is
/// never refused for its sum, while every sum paydesk makes of an invoice (its lines, the payments
/// and fees on it) stays ninety thousand times inside i64.
pub const MAX_INVOICE_TOTAL: i64 = MAX_LINE_AMOUNT * MAX_LINES as i64;

/// Stripe's minimum charge in `currency`, when Stripe publishes one.
pub fn minimum_charge(currency: Currency) -> Option<Money> {
    MINIMUM_CHARGES
        .iter()
        .find(|(code, _)| *code == currency.code())
        .map(|(_, amount)| Money::new(*amount, currency))
}

/// Stripe's maximum charge in `currency`.
pub fn maximum_charge(currency: Currency) -> Money {
    Money {
        amount: MAXIMUM_CHARGE,
        currency,
    }
}

/// The minimum charges as a person reads them: `USD 0.50, AED 2.00, …`.
pub fn minimum_charges_text() -> String {
    MINIMUM_CHARGES
        .iter()
        .filter_map(|(code, amount)| {
            Currency::parse(code)
                .ok()
                .map(|c| Money::new(*amount, c).to_string())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The invoices a charge is for, as a person reads them: `invoice INV-7`, `invoices INV-1, INV-2`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoices(pub Vec<String>);

impl fmt::Display for Invoices {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = if self.0.len() == 1 {
            "invoice"
        } else {
            "invoices"
        };
        write!(f, "{word} {}", self.0.join(", "))
    }
}

/// What would be charged: the total, and the fees in it (zero: no fee), in the total's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charge {
    pub total: Money,
    pub fees: MinorUnits,
}

impl fmt::Display for Charge {
    /// `USD 0.31 (USD 0.30 due + USD 0.01 fee)`, or `USD 0.30` without a fee.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let currency = self.total.currency;
        match self.total.amount.checked_sub(self.fees) {
            Ok(due) if self.fees.0 != 0 => write!(
                f,
                "{} ({} due + {} fee)",
                self.total,
                Money::new(due.0, currency),
                Money::new(self.fees.0, currency)
            ),
            _ => write!(f, "{}", self.total),
        }
    }
}

/// The limit a charge is outside of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Below the currency's minimum charge (this many minor units).
    Minimum(MinorUnits),
    /// Zero or less, in a currency without a published minimum.
    Positive,
    /// Above [`MAXIMUM_CHARGE`].
    Maximum,
    /// A three-decimal amount that does not end in 0.
    Step,
}

/// Why Stripe would refuse a charge: the charge, the invoices it is for, and the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitError {
    pub charge: Charge,
    pub invoices: Invoices,
    pub limit: Limit,
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (charge, invoices) = (&self.charge, &self.invoices);
        let currency = charge.total.currency;
        match self.limit {
            Limit::Minimum(minimum) => write!(
                f,
                "{charge} is below Stripe's minimum charge of {} for {invoices}",
                Money::new(minimum.0, currency)
            ),
            Limit::Positive => write!(
                f,
                "{charge} is not a charge Stripe can take for {invoices}: it must be more than zero"
            ),
            Limit::Maximum => write!(
                f,
                "{charge} is above Stripe's maximum charge of {} for {invoices} (Stripe takes at most eight digits of minor units in one payment{})",
                maximum_charge(currency),
                if invoices.0.len() > 1 {
                    "; pay fewer invoices at once"
                } else {
                    ""
                }
            ),
            Limit::Step => write!(
                f,
                "{charge} is not a multiple of 10 minor units, which Stripe requires of {currency} amounts, for {invoices}"
            ),
        }
    }
}

impl std::error::Error for LimitError {}

/// Check that Stripe would take `total` (of which `fees` are fees) in one PaymentIntent for
/// `invoices`: at least the currency's minimum (or more than zero where Stripe lists none), at
/// most eight digits, on the currency's step (three-decimal currencies end in 0).
pub fn check_charge(total: Money, fees: MinorUnits, invoices: &[String]) -> Result<(), LimitError> {
    let currency = total.currency;
    let limit = match minimum_charge(currency) {
        Some(minimum) if total.amount < minimum.amount => Some(Limit::Minimum(minimum.amount)),
        None if total.amount.0 <= 0 => Some(Limit::Positive),
        _ if total.amount > MAXIMUM_CHARGE => Some(Limit::Maximum),
        _ if currency.check_chargeable(total.amount).is_err() => Some(Limit::Step),
        _ => None,
    };
    match limit {
        None => Ok(()),
        Some(limit) => Err(LimitError {
            charge: Charge { total, fees },
            invoices: Invoices(invoices.to_vec()),
            limit,
        }),
    }
}

/// Check a quote's total against Stripe's limits, naming its invoices.
pub fn check_quote(quote: &Quote) -> Result<(), LimitError> {
    let invoices: Vec<String> = quote
        .lines
        .iter()
        .map(|l| l.invoice_number.clone())
        .collect();
    // Cannot overflow: every fee is at most its line's total, and the lines' totals add up to the
    // quote's total, which exists.
    let fees =
        MinorUnits::checked_sum(quote.lines.iter().map(|l| l.fee.amount)).unwrap_or_default();
    check_charge(quote.total, fees, &invoices)
}

/// Why an invoice's lines are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinesError {
    #[error("line {} is {amount} minor units; at most {max} either way", .index + 1, max = MAX_LINE_AMOUNT)]
    LineTooLarge { index: usize, amount: i64 },
    #[error(
        "the lines add up to more than {max} minor units either way (by line {}): more than paydesk can count for one invoice",
        .index + 1,
        max = MAX_INVOICE_TOTAL
    )]
    SumTooLarge { index: usize },
}

/// The total of an invoice's lines, refusing a line beyond ±[`MAX_LINE_AMOUNT`] and a running sum
/// beyond ±[`MAX_INVOICE_TOTAL`] (so no sum can wrap). Every problem, in line order.
pub fn invoice_total(lines: &[i64]) -> Result<MinorUnits, Vec<LinesError>> {
    let mut problems = Vec::new();
    let mut sum: Option<i64> = Some(0);
    let mut sum_reported = false;
    for (index, &amount) in lines.iter().enumerate() {
        if !(-MAX_LINE_AMOUNT..=MAX_LINE_AMOUNT).contains(&amount) {
            problems.push(LinesError::LineTooLarge { index, amount });
        }
        sum = sum.and_then(|s| s.checked_add(amount));
        let within = |s: i64| (-MAX_INVOICE_TOTAL..=MAX_INVOICE_TOTAL).contains(&s);
        if !sum.is_some_and(within) && !sum_reported {
            problems.push(LinesError::SumTooLarge { index });
            sum_reported = true;
        }
    }
    match sum {
        Some(total) if problems.is_empty() => Ok(MinorUnits(total)),
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fees::{FeePolicy, QuoteItem, quote};
    use crate::domain::vocabulary::PaymentMethodType;
    use rust_decimal::Decimal;

    fn c(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    fn check(code: &str, total: i64, fees: i64, invoices: &[&str]) -> Result<(), Limit> {
        let invoices: Vec<String> = invoices.iter().map(|s| s.to_string()).collect();
        check_charge(Money::new(total, c(code)), MinorUnits(fees), &invoices).map_err(|e| e.limit)
    }

    fn message(code: &str, total: i64, fees: i64, invoices: &[&str]) -> String {
        let invoices: Vec<String> = invoices.iter().map(|s| s.to_string()).collect();
        check_charge(Money::new(total, c(code)), MinorUnits(fees), &invoices)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn every_listed_currency_is_one_stripe_accepts_and_reads_as_published() {
        for (code, _) in MINIMUM_CHARGES {
            assert!(Currency::parse(code).is_ok(), "{code}");
        }
        let shown = |code| minimum_charge(c(code)).unwrap().to_string();
        assert_eq!(shown("usd"), "USD 0.50");
        assert_eq!(shown("gbp"), "GBP 0.30");
        assert_eq!(shown("jpy"), "JPY 50");
        assert_eq!(shown("huf"), "HUF 175.00");
        assert_eq!(shown("mxn"), "MXN 10.00");
        assert_eq!(shown("czk"), "CZK 15.00");
        assert_eq!(MINIMUM_CHARGES.len(), 24);
    }

    #[test]
    fn below_the_minimum_is_refused_naming_the_invoice_and_the_limit() {
        assert_eq!(
            message("usd", 30, 0, &["INV-7"]),
            "USD 0.30 is below Stripe's minimum charge of USD 0.50 for invoice INV-7"
        );
        assert_eq!(
            message("usd", 31, 1, &["INV-7"]),
            "USD 0.31 (USD 0.30 due + USD 0.01 fee) is below Stripe's minimum charge of USD 0.50 for invoice INV-7"
        );
        assert!(check("usd", 50, 0, &["INV-7"]).is_ok());
    }

    #[test]
    fn jpy_49_is_refused_and_50_accepted() {
        assert_eq!(
            check("jpy", 49, 0, &["J-1"]),
            Err(Limit::Minimum(MinorUnits(50)))
        );
        assert!(check("jpy", 50, 0, &["J-1"]).is_ok());
    }

    #[test]
    fn the_maximum_is_eight_digits_in_every_currency() {
        for code in ["usd", "jpy", "kwd", "idr"] {
            assert!(check(code, 99_999_990, 0, &["A"]).is_ok(), "{code}");
            assert_eq!(
                check(code, 100_000_000, 0, &["A"]),
                Err(Limit::Maximum),
                "{code}"
            );
        }
        let msg = message("usd", 1_029_000_000, 29_000_000, &["A", "B"]);
        assert!(
            msg.contains("USD 10290000.00")
                && msg.contains("maximum charge of USD 999999.99")
                && msg.contains("invoices A, B")
                && msg.contains("pay fewer invoices at once"),
            "{msg}"
        );
    }

    #[test]
    fn currencies_without_a_published_minimum_need_only_a_positive_charge() {
        assert!(check("kwd", 10, 0, &["K"]).is_ok());
        assert!(check("idr", 1, 0, &["I"]).is_ok());
        assert_eq!(check("idr", 0, 0, &["I"]), Err(Limit::Positive));
        assert_eq!(
            check("usd", -5, 0, &["I"]),
            Err(Limit::Minimum(MinorUnits(50)))
        );
    }

    #[test]
    fn three_decimal_charges_must_end_in_zero() {
        assert_eq!(check("kwd", 12_345, 0, &["K"]), Err(Limit::Step));
        assert!(check("kwd", 12_340, 0, &["K"]).is_ok());
    }

    #[test]
    fn a_quote_is_checked_on_its_total_with_fees_naming_every_invoice() {
        let policy = FeePolicy {
            default_percent: Decimal::new(29, 1),
            ..FeePolicy::default()
        };
        let item = |id: i64, amount_due| QuoteItem {
            invoice_id: id,
            invoice_number: format!("INV-{id}"),
            currency: "usd".into(),
            amount_due,
        };
        // 0.49 + 2.9 % = 0.50: the fee lifts it to the minimum.
        let q = quote(&[item(1, 49)], PaymentMethodType::Card, &policy).unwrap();
        assert_eq!(q.total.amount, MinorUnits(50));
        assert!(check_quote(&q).is_ok());
        // Two small invoices paid together reach the minimum that neither reaches alone.
        let alone = quote(&[item(1, 30)], PaymentMethodType::Card, &policy).unwrap();
        assert!(check_quote(&alone).is_err());
        let together = quote(
            &[item(1, 30), item(2, 30)],
            PaymentMethodType::Card,
            &policy,
        )
        .unwrap();
        assert!(check_quote(&together).is_ok());
        // USD 10,000,000.00 with its fee is far above eight digits.
        let huge = quote(&[item(8, 1_000_000_000)], PaymentMethodType::Card, &policy).unwrap();
        assert_eq!(huge.total.amount, MinorUnits(1_029_000_000));
        let msg = check_quote(&huge).unwrap_err().to_string();
        assert!(msg.contains("for invoice INV-8"), "{msg}");
    }

    #[test]
    fn invoice_lines_and_running_sums_stay_within_the_bound() {
        assert_eq!(invoice_total(&[1_000, -200, 5]), Ok(MinorUnits(805)));
        assert_eq!(
            invoice_total(&[MAX_LINE_AMOUNT, -MAX_LINE_AMOUNT]),
            Ok(MinorUnits(0))
        );
        // The most lines of the most either way are never refused for their sum.
        assert_eq!(
            invoice_total(&[MAX_LINE_AMOUNT; MAX_LINES]),
            Ok(MinorUnits(MAX_INVOICE_TOTAL))
        );
        assert_eq!(
            invoice_total(&[-MAX_LINE_AMOUNT; MAX_LINES]),
            Ok(MinorUnits(-MAX_INVOICE_TOTAL))
        );
        // The probe: two i64::MAX lines and 1002 wrapped to 1000.
        let problems = invoice_total(&[i64::MAX, i64::MAX, 1002]).unwrap_err();
        assert_eq!(
            problems,
            vec![
                LinesError::LineTooLarge {
                    index: 0,
                    amount: i64::MAX
                },
                LinesError::SumTooLarge { index: 0 },
                LinesError::LineTooLarge {
                    index: 1,
                    amount: i64::MAX
                },
            ]
        );
        // Lines each within the bound whose running sum is not, though the total would be.
        let mut lines = vec![MAX_LINE_AMOUNT; MAX_LINES + 1];
        lines.push(-MAX_LINE_AMOUNT);
        let problems = invoice_total(&lines).unwrap_err();
        assert_eq!(problems, vec![LinesError::SumTooLarge { index: MAX_LINES }]);
        assert_eq!(
            invoice_total(&[i64::MIN]).unwrap_err(),
            vec![
                LinesError::LineTooLarge {
                    index: 0,
                    amount: i64::MIN
                },
                LinesError::SumTooLarge { index: 0 },
            ]
        );
    }
}
