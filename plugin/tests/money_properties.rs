//! Property tests of the processing-fee arithmetic in `domain::fees`, checked against an oracle
//! written apart from it in i128 integers: a fee is `round_half_up(amount × pct / 100)` in steps of
//! the currency's Stripe step, then capped; a quote's total is exactly Σ(amount due + fee);
//! per-type rules stay with their type; amounts too large to charge and mixed currencies are error
//! values, never panics. Percentages are whole thousandths of a percent, so the oracle needs no
//! decimals. Native only; no I/O, no floats.

use proptest::prelude::*;
use proptest::sample::select;
use rust_decimal::Decimal;

use paydesk_plugin::domain::fees::{FeePolicy, FeeRule, QuoteError, QuoteItem, fee_for, quote};
use paydesk_plugin::domain::money::{Currency, MinorUnits, MoneyError};
use paydesk_plugin::domain::vocabulary::PaymentMethodType;

/// Currencies from each of Stripe's groups: two decimals, zero decimals, three decimals.
const CURRENCIES: &[&str] = &[
    "usd", "eur", "gbp", "jpy", "krw", "clp", "kwd", "bhd", "jod", "omr", "tnd",
];

/// Thousandths of a percent in 100 %.
const HUNDRED_PERCENT: i64 = 100_000;

fn currency(code: &str) -> Currency {
    Currency::parse(code).expect("a currency Stripe accepts")
}

fn percent(thousandths: i64) -> Decimal {
    Decimal::new(thousandths, 3)
}

/// Invoice numbers that are never a substring of one another.
fn invoice_number(index: usize) -> String {
    format!("INV-{:04}", index + 1)
}

fn items(code: &str, amounts: &[i64]) -> Vec<QuoteItem> {
    amounts
        .iter()
        .enumerate()
        .map(|(i, &amount_due)| QuoteItem {
            invoice_id: i as i64 + 1,
            invoice_number: invoice_number(i),
            currency: code.to_string(),
            amount_due,
        })
        .collect()
}

fn flat(thousandths: i64, cap: Option<i64>) -> FeePolicy {
    FeePolicy {
        default_percent: percent(thousandths),
        default_cap: cap.map(MinorUnits),
        rules: Vec::new(),
    }
}

/// The fee the rule asks for, before it is converted to i64: `None` when it does not fit.
fn oracle_fee(amount: i64, thousandths: i64, step: i64, cap: Option<i64>) -> Option<i64> {
    if amount <= 0 || thousandths == 0 {
        return Some(0);
    }
    let numerator = i128::from(amount) * i128::from(thousandths);
    let denominator = i128::from(HUNDRED_PERCENT) * i128::from(step);
    // floor(n / d + 1/2) with n, d > 0: exact halves go up.
    let steps = (2 * numerator + denominator) / (2 * denominator);
    let fee = i64::try_from(steps * i128::from(step)).ok()?;
    let fee = match cap {
        Some(cap) => fee.min(cap.max(0) / step * step),
        None => fee,
    };
    Some(fee.max(0))
}

/// Each invoice's fee and the quote's total, or `None` when something does not fit in i64.
fn oracle_quote(
    amounts: &[i64],
    thousandths: i64,
    step: i64,
    cap: Option<i64>,
) -> Option<(Vec<i64>, i64)> {
    let mut fees = Vec::new();
    let mut total: i128 = 0;
    for &amount in amounts {
        let fee = oracle_fee(amount, thousandths, step, cap)?;
        let line = i64::try_from(i128::from(amount) + i128::from(fee)).ok()?;
        total += i128::from(line);
        i64::try_from(total).ok()?;
        fees.push(fee);
    }
    Some((fees, i64::try_from(total).ok()?))
}

fn is_overflow(err: &QuoteError) -> bool {
    matches!(
        err,
        QuoteError::Overflow
            | QuoteError::Money {
                source: MoneyError::Overflow,
                ..
            }
    )
}

/// Percentages in thousandths: anywhere in 0–100 %, or one a tenant would type.
fn thousandths() -> impl Strategy<Value = i64> {
    prop_oneof![
        3 => 0..=HUNDRED_PERCENT,
        1 => select(vec![0, 1, 5, 500, 1_000, 2_500, 2_900, 3_500, 50_000, HUNDRED_PERCENT]),
    ]
}

/// An amount Stripe can charge in a currency of `step`: small, typical, or large.
fn amount(step: i64) -> impl Strategy<Value = i64> {
    prop_oneof![1..=10_000i64, 1..=10_000_000i64, 1..=1_000_000_000_000i64]
        .prop_map(move |a| a * step)
}

/// A currency and 1..=40 invoices in it.
fn invoice_set() -> impl Strategy<Value = (&'static str, Vec<i64>)> {
    select(CURRENCIES).prop_flat_map(|code| {
        let step = currency(code).stripe_step();
        (Just(code), prop::collection::vec(amount(step), 1..=40))
    })
}

fn cap() -> impl Strategy<Value = Option<i64>> {
    prop::option::of(prop_oneof![0..=100i64, 0..=100_000i64])
}

fn method_type() -> impl Strategy<Value = PaymentMethodType> {
    select(PaymentMethodType::ALL.to_vec())
}

/// Every i64, with the edges drawn often.
fn any_i64() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        select(vec![
            i64::MIN,
            i64::MIN + 1,
            -10,
            -1,
            0,
            1,
            9,
            10,
            i64::MAX - 1,
            i64::MAX
        ]),
    ]
}

/// Every `Decimal`: any 96-bit mantissa, sign and scale.
fn any_decimal() -> impl Strategy<Value = Decimal> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<bool>(),
        0..=28u32,
    )
        .prop_map(|(lo, mid, hi, negative, scale)| {
            Decimal::from_parts(lo, mid, hi, negative, scale)
        })
}

proptest! {
    #[test]
    fn quote_total_is_exactly_the_sum_of_amounts_and_fees(
        (code, amounts) in invoice_set(),
        pct in thousandths(),
        cap in cap(),
        method in method_type(),
    ) {
        let q = quote(&items(code, &amounts), method, &flat(pct, cap)).unwrap();
        prop_assert_eq!(q.lines.len(), amounts.len());
        let mut sum: i128 = 0;
        for (line, &amount) in q.lines.iter().zip(&amounts) {
            prop_assert_eq!(line.amount_due.amount, MinorUnits(amount));
            prop_assert_eq!(line.total.amount.0, line.amount_due.amount.0 + line.fee.amount.0);
            prop_assert_eq!(line.fee.currency, currency(code));
            sum += i128::from(amount) + i128::from(line.fee.amount.0);
        }
        prop_assert_eq!(i128::from(q.total.amount.0), sum);
        prop_assert_eq!(q.total.currency, currency(code));
        prop_assert_eq!(q.method_type, method);
    }

    #[test]
    fn every_fee_equals_the_integer_oracle(
        (code, amounts) in invoice_set(),
        pct in thousandths(),
        cap in cap(),
    ) {
        let step = currency(code).stripe_step();
        let q = quote(&items(code, &amounts), PaymentMethodType::Card, &flat(pct, cap)).unwrap();
        let (fees, total) = oracle_quote(&amounts, pct, step, cap).expect("these amounts fit");
        let got: Vec<i64> = q.lines.iter().map(|l| l.fee.amount.0).collect();
        prop_assert_eq!(got, fees);
        prop_assert_eq!(q.total.amount.0, total);
    }

    #[test]
    fn fee_for_equals_the_oracle_up_to_the_largest_amounts(
        code in select(CURRENCIES),
        amount in prop_oneof![1..=1_000_000i64, 1..=i64::MAX, (i64::MAX - 1_000)..=i64::MAX],
        pct in thousandths(),
        cap in prop::option::of(any_i64()),
    ) {
        let c = currency(code);
        let got = fee_for(MinorUnits(amount), c, percent(pct), cap.map(MinorUnits));
        match oracle_fee(amount, pct, c.stripe_step(), cap) {
            Some(fee) => prop_assert_eq!(got, Ok(MinorUnits(fee))),
            None => prop_assert_eq!(got, Err(MoneyError::Overflow)),
        }
    }

    #[test]
    fn exact_halves_round_up_and_just_below_rounds_down(
        code in select(CURRENCIES),
        twos in 0..=4u32,
        fives in 0..=5u32,
        k in 0..=1_000_000_000i64,
    ) {
        // pct divides 50 000, so amount × pct / (100 % × step) is exactly k + ½.
        let pct = 2i64.pow(twos) * 5i64.pow(fives);
        let c = currency(code);
        let step = c.stripe_step();
        let amount = (2 * k + 1) * (HUNDRED_PERCENT * step / (2 * pct));
        let q = quote(&items(code, &[amount]), PaymentMethodType::Card, &flat(pct, None)).unwrap();
        prop_assert_eq!(q.lines[0].fee.amount, MinorUnits((k + 1) * step));
        // One step less is at most half a step lower: it rounds down to k.
        let below = fee_for(MinorUnits(amount - step), c, percent(pct), None).unwrap();
        prop_assert_eq!(below, MinorUnits(k * step));
    }

    #[test]
    fn fees_are_non_negative_within_the_cap_and_on_the_step(
        (code, amounts) in invoice_set(),
        pct in thousandths(),
        cap in cap(),
    ) {
        let step = currency(code).stripe_step();
        let q = quote(&items(code, &amounts), PaymentMethodType::Card, &flat(pct, cap)).unwrap();
        for line in &q.lines {
            let fee = line.fee.amount.0;
            prop_assert!(fee >= 0, "{fee}");
            prop_assert_eq!(fee % step, 0, "{} is not on {}'s step", fee, code);
            if let Some(cap) = cap {
                prop_assert!(fee <= cap, "{fee} above the cap {cap}");
            }
            prop_assert_eq!(line.total.amount.0 % step, 0);
        }
    }

    #[test]
    fn per_type_rules_apply_only_to_their_type(
        (code, amounts) in invoice_set(),
        default_pct in 1..=HUNDRED_PERCENT,
        other in select(PaymentMethodType::ALL.iter().copied()
            .filter(|t| *t != PaymentMethodType::SepaDebit).collect::<Vec<_>>()),
        other_pct in thousandths(),
        other_cap in cap(),
    ) {
        // The tenant's rules: no fee for SEPA debits, its own fee for one other type.
        let policy = FeePolicy {
            default_percent: percent(default_pct),
            default_cap: None,
            rules: vec![
                FeeRule { method_type: PaymentMethodType::SepaDebit, percent: Decimal::ZERO, cap: None },
                FeeRule { method_type: other, percent: percent(other_pct), cap: other_cap.map(MinorUnits) },
            ],
        };
        let step = currency(code).stripe_step();
        let invoices = items(code, &amounts);
        for method in PaymentMethodType::ALL {
            let (pct, cap) = match method {
                PaymentMethodType::SepaDebit => (0, None),
                m if m == other => (other_pct, other_cap),
                _ => (default_pct, None),
            };
            let q = quote(&invoices, method, &policy).unwrap();
            let (fees, total) = oracle_quote(&amounts, pct, step, cap).expect("these amounts fit");
            let got: Vec<i64> = q.lines.iter().map(|l| l.fee.amount.0).collect();
            prop_assert_eq!(got, fees, "fees by {}", method);
            prop_assert_eq!(q.total.amount.0, total, "total by {}", method);
        }
        let sepa = quote(&invoices, PaymentMethodType::SepaDebit, &policy).unwrap();
        prop_assert_eq!(sepa.total.amount.0, amounts.iter().sum::<i64>());
    }

    #[test]
    fn huge_amounts_are_an_overflow_error_never_a_panic(
        code in select(CURRENCIES),
        amounts in prop::collection::vec(
            prop_oneof![(i64::MAX / 2)..=i64::MAX, Just(i64::MAX), 1..=i64::MAX], 1..=40),
        pct in thousandths(),
        cap in prop::option::of(any_i64()),
    ) {
        let step = currency(code).stripe_step();
        // Only amounts Stripe can charge, so overflow is the one thing that can go wrong.
        let amounts: Vec<i64> = amounts.iter().map(|a| (a - a % step).max(step)).collect();
        let got = quote(&items(code, &amounts), PaymentMethodType::Card, &flat(pct, cap));
        match oracle_quote(&amounts, pct, step, cap) {
            Some((fees, total)) => {
                let q = got.unwrap();
                let got_fees: Vec<i64> = q.lines.iter().map(|l| l.fee.amount.0).collect();
                prop_assert_eq!(got_fees, fees);
                prop_assert_eq!(q.total.amount.0, total);
            }
            None => {
                let err = got.unwrap_err();
                prop_assert!(is_overflow(&err), "{err:?}");
            }
        }
    }

    #[test]
    fn fee_for_never_panics_on_any_input(
        code in select(CURRENCIES),
        amount in any_i64(),
        pct in any_decimal(),
        cap in prop::option::of(any_i64()),
    ) {
        let c = currency(code);
        match fee_for(MinorUnits(amount), c, pct, cap.map(MinorUnits)) {
            Ok(MinorUnits(fee)) => {
                prop_assert!(fee >= 0, "{fee}");
                prop_assert_eq!(fee % c.stripe_step(), 0);
                if let Some(cap) = cap {
                    prop_assert!(fee <= cap.max(0), "{fee} above the cap {cap}");
                }
            }
            Err(e) => prop_assert_eq!(e, MoneyError::Overflow),
        }
    }

    #[test]
    fn mixed_currencies_are_refused_naming_both(
        first in select(CURRENCIES),
        other in select(CURRENCIES),
        before in 1..=20usize,
        after in 0..=19usize,
    ) {
        prop_assume!(first != other);
        let mut invoices = items(first, &vec![1_000; before]);
        let odd_one = items(other, &vec![1_000; before + 1 + after]);
        invoices.extend(odd_one[before..].iter().cloned());
        let err = quote(&invoices, PaymentMethodType::Card, &flat(2_900, None)).unwrap_err();
        prop_assert!(matches!(err, QuoteError::MixedCurrencies { .. }), "{err:?}");
        let message = err.to_string();
        for needle in [
            first.to_ascii_uppercase(),
            other.to_ascii_uppercase(),
            invoice_number(0),
            invoice_number(before),
        ] {
            prop_assert!(message.contains(&needle), "{needle} missing from {message}");
        }
    }

    #[test]
    fn three_decimal_amounts_off_the_step_are_refused(
        code in select(vec!["bhd", "jod", "kwd", "omr", "tnd"]),
        tens in 0..=1_000_000_000i64,
        units in 1..=9i64,
        position in 0..=5usize,
    ) {
        let mut amounts = vec![1_000; position];
        amounts.push(tens * 10 + units);
        let err = quote(&items(code, &amounts), PaymentMethodType::Card, &flat(2_900, None))
            .unwrap_err();
        let QuoteError::Money { number, source } = &err else {
            return Err(TestCaseError::fail(format!("expected a money error, got {err:?}")));
        };
        prop_assert_eq!(number, &invoice_number(position));
        let is_off_step = matches!(source, MoneyError::NotStripeRepresentable { .. });
        prop_assert!(is_off_step, "{source:?}");
    }
}
