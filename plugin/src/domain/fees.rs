//! Processing fees and quotes (REQUIREMENTS M10, B5, B7): for a set of invoices and a payment method
//! type, each invoice's fee line and the exact total to charge. Owns the rounding rule
//! (`round_half_up(amount_due × pct / 100)` in minor units, to Stripe's step for three-decimal
//! currencies) and the fee rules per method type with caps. Pure: no I/O, no floats.

use rust_decimal::{Decimal, RoundingStrategy};

use super::money::{Currency, MinorUnits, Money, MoneyError};
use super::vocabulary::PaymentMethodType;

/// A fee rule for one payment method type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeRule {
    pub method_type: PaymentMethodType,
    pub percent: Decimal,
    pub cap: Option<MinorUnits>,
}

/// The tenant's fee settings: a default percentage (the guide's "Processing Fee (Percentage)") with an
/// optional cap, overridden per payment method type.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeePolicy {
    pub default_percent: Decimal,
    pub default_cap: Option<MinorUnits>,
    pub rules: Vec<FeeRule>,
}

/// One invoice to price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteItem {
    pub invoice_id: i64,
    pub invoice_number: String,
    pub currency: String,
    pub amount_due: i64,
}

/// One invoice's share of a quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteLine {
    pub invoice_id: i64,
    pub invoice_number: String,
    pub amount_due: Money,
    /// Zero means no fee line is added.
    pub fee: Money,
    pub fee_description: String,
    pub total: Money,
}

/// The exact charge for a set of invoices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    pub lines: Vec<QuoteLine>,
    pub total: Money,
    pub method_type: PaymentMethodType,
}

/// Why a set of invoices can't be quoted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuoteError {
    #[error("no invoices to pay")]
    Empty,
    #[error(
        "invoices paid together must share one currency: {first_number} is in {first}, {other_number} is in {other}"
    )]
    MixedCurrencies {
        first: String,
        first_number: String,
        other: String,
        other_number: String,
    },
    #[error("invoice {number} has nothing to pay (amount due {amount})")]
    NothingDue { number: String, amount: String },
    #[error("invoice {number}: {source}")]
    Money {
        number: String,
        #[source]
        source: MoneyError,
    },
    #[error("the total is too large to charge")]
    Overflow,
}

impl FeePolicy {
    /// The percentage and cap that apply to `method_type`.
    pub fn rule_for(&self, method_type: PaymentMethodType) -> (Decimal, Option<MinorUnits>) {
        self.rules
            .iter()
            .find(|r| r.method_type == method_type)
            .map(|r| (r.percent, r.cap))
            .unwrap_or((self.default_percent, self.default_cap))
    }

    /// The fee on `amount` for `method_type`, rounded half up to the currency's Stripe step, capped.
    pub fn fee(
        &self,
        amount: MinorUnits,
        currency: Currency,
        method_type: PaymentMethodType,
    ) -> Result<MinorUnits, MoneyError> {
        let (percent, cap) = self.rule_for(method_type);
        fee_for(amount, currency, percent, cap)
    }
}

/// `round_half_up(amount × percent / 100)`, in steps of `currency.stripe_step()`, at most `cap`.
pub fn fee_for(
    amount: MinorUnits,
    currency: Currency,
    percent: Decimal,
    cap: Option<MinorUnits>,
) -> Result<MinorUnits, MoneyError> {
    if percent.is_zero() || amount.0 <= 0 {
        return Ok(MinorUnits(0));
    }
    let step = currency.stripe_step();
    let divisor = Decimal::from(100 * step);
    let steps = Decimal::from(amount.0)
        .checked_mul(percent)
        .and_then(|v| v.checked_div(divisor))
        .ok_or(MoneyError::Overflow)?
        .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    let fee = i64::try_from(steps)
        .ok()
        .and_then(|s| s.checked_mul(step))
        .ok_or(MoneyError::Overflow)?;
    let fee = match cap {
        // A cap that is not on Stripe's step is rounded down to it; a negative cap means no fee
        // (and `i64::MIN` must not overflow on the way).
        Some(cap) => fee.min(cap.0.max(0) / step * step),
        None => fee,
    };
    Ok(MinorUnits(fee.max(0)))
}

/// `Processing fee (2.9%)`.
pub fn fee_description(percent: Decimal) -> String {
    format!("Processing fee ({}%)", percent.normalize())
}

/// Price `items` for `method_type` under `policy`: a fee line per invoice and the exact total.
pub fn quote(
    items: &[QuoteItem],
    method_type: PaymentMethodType,
    policy: &FeePolicy,
) -> Result<Quote, QuoteError> {
    let first = items.first().ok_or(QuoteError::Empty)?;
    let currency = Currency::parse(&first.currency).map_err(|source| QuoteError::Money {
        number: first.invoice_number.clone(),
        source,
    })?;
    let (percent, _) = policy.rule_for(method_type);
    let description = fee_description(percent);
    let mut lines = Vec::with_capacity(items.len());
    let mut total = MinorUnits(0);
    for item in items {
        if !item.currency.eq_ignore_ascii_case(currency.code()) {
            return Err(QuoteError::MixedCurrencies {
                first: currency.to_string(),
                first_number: first.invoice_number.clone(),
                other: item.currency.to_ascii_uppercase(),
                other_number: item.invoice_number.clone(),
            });
        }
        let amount = MinorUnits(item.amount_due);
        if amount.0 <= 0 {
            return Err(QuoteError::NothingDue {
                number: item.invoice_number.clone(),
                amount: Money::new(item.amount_due, currency).to_string(),
            });
        }
        let money_err = |source| QuoteError::Money {
            number: item.invoice_number.clone(),
            source,
        };
        currency.check_chargeable(amount).map_err(money_err)?;
        let fee = policy
            .fee(amount, currency, method_type)
            .map_err(money_err)?;
        let line_total = amount.checked_add(fee).map_err(|_| QuoteError::Overflow)?;
        total = total
            .checked_add(line_total)
            .map_err(|_| QuoteError::Overflow)?;
        lines.push(QuoteLine {
            invoice_id: item.invoice_id,
            invoice_number: item.invoice_number.clone(),
            amount_due: Money { amount, currency },
            fee: Money {
                amount: fee,
                currency,
            },
            fee_description: description.clone(),
            total: Money {
                amount: line_total,
                currency,
            },
        });
    }
    Ok(Quote {
        lines,
        total: Money {
            amount: total,
            currency,
        },
        method_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn pct(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn item(id: i64, currency: &str, amount_due: i64) -> QuoteItem {
        QuoteItem {
            invoice_id: id,
            invoice_number: format!("INV-{id}"),
            currency: currency.into(),
            amount_due,
        }
    }

    fn policy(p: &str) -> FeePolicy {
        FeePolicy {
            default_percent: pct(p),
            ..FeePolicy::default()
        }
    }

    #[test]
    fn usd_fee_rounds_half_up() {
        // 2.9 % of USD 10.50 = 30.45 cents → 30; of USD 15.00 = 43.5 cents → 44.
        let q = quote(
            &[item(1, "usd", 1050), item(2, "usd", 1500)],
            PaymentMethodType::Card,
            &policy("2.9"),
        )
        .unwrap();
        assert_eq!(q.lines[0].fee.amount, MinorUnits(30));
        assert_eq!(q.lines[1].fee.amount, MinorUnits(44));
        assert_eq!(q.total.amount, MinorUnits(1050 + 30 + 1500 + 44));
    }

    #[test]
    fn jpy_fee_is_whole_yen() {
        // 3.5 % of ¥1,234 = 43.19 → 43; of ¥1,300 = 45.5 → 46.
        let q = quote(
            &[item(1, "jpy", 1234), item(2, "jpy", 1300)],
            PaymentMethodType::Card,
            &policy("3.5"),
        )
        .unwrap();
        assert_eq!(q.lines[0].fee.amount, MinorUnits(43));
        assert_eq!(q.lines[1].fee.amount, MinorUnits(46));
    }

    #[test]
    fn kwd_fee_ends_in_zero() {
        // 2.5 % of KWD 12.340 = 0.3085 → 0.310 (Stripe's step of 10 fils, half up).
        let q = quote(
            &[item(1, "kwd", 12340)],
            PaymentMethodType::Card,
            &policy("2.5"),
        )
        .unwrap();
        assert_eq!(q.lines[0].fee.amount, MinorUnits(310));
    }

    #[test]
    fn mixed_currencies_are_refused_naming_both() {
        let err = quote(
            &[item(1, "usd", 100), item(2, "eur", 100)],
            PaymentMethodType::Card,
            &policy("1"),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("USD") && msg.contains("EUR") && msg.contains("INV-2"),
            "{msg}"
        );
    }

    #[test]
    fn per_type_rule_and_cap_apply() {
        let p = FeePolicy {
            default_percent: pct("3"),
            default_cap: Some(MinorUnits(500)),
            rules: vec![FeeRule {
                method_type: PaymentMethodType::SepaDebit,
                percent: Decimal::ZERO,
                cap: None,
            }],
        };
        let eur = Currency::parse("eur").unwrap();
        assert_eq!(
            p.fee(MinorUnits(100_000), eur, PaymentMethodType::Card)
                .unwrap(),
            MinorUnits(500)
        );
        assert_eq!(
            p.fee(MinorUnits(100_000), eur, PaymentMethodType::SepaDebit)
                .unwrap(),
            MinorUnits(0)
        );
    }

    #[test]
    fn huge_amounts_are_an_error_not_a_panic() {
        let err = quote(
            &[item(1, "usd", i64::MAX), item(2, "usd", i64::MAX)],
            PaymentMethodType::Card,
            &policy("100"),
        )
        .unwrap_err();
        assert!(matches!(
            err,
            QuoteError::Overflow | QuoteError::Money { .. }
        ));
    }

    #[test]
    fn a_cap_of_i64_min_means_no_fee_not_an_overflow() {
        // Regression: rounding the cap down to KWD's step subtracted past i64::MIN.
        let kwd = Currency::parse("kwd").unwrap();
        let fee = fee_for(MinorUnits(1000), kwd, pct("10"), Some(MinorUnits(i64::MIN)));
        assert_eq!(fee, Ok(MinorUnits(0)));
    }

    #[test]
    fn zero_amount_invoice_is_refused() {
        let err = quote(&[item(1, "usd", 0)], PaymentMethodType::Card, &policy("1")).unwrap_err();
        assert!(matches!(err, QuoteError::NothingDue { .. }));
    }
}
