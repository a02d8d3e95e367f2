//! Property tests of the sums of money and Stripe's limits (`domain::money`, `domain::limits`,
//! `domain::fees`) driven with extreme values — i64::MIN and MAX, hundreds of lines, fees up to
//! 100 % — against oracles written apart in i128: every sum is exact or an error value, never a
//! wrap or a panic; a charge passes the limits exactly when its exact total is within them.
//! Native only; no I/O, no floats.

use proptest::prelude::*;
use proptest::sample::select;
use rust_decimal::Decimal;

use paydesk_plugin::domain::fees::{FeePolicy, QuoteError, QuoteItem, quote};
use paydesk_plugin::domain::limits::{
    self, Limit, LinesError, MAX_INVOICE_TOTAL, MAX_LINE_AMOUNT, MAXIMUM_CHARGE,
};
use paydesk_plugin::domain::money::{Currency, MinorUnits, MoneyError};
use paydesk_plugin::domain::vocabulary::PaymentMethodType;

/// Two-, zero- and three-decimal currencies, with and without a published minimum.
const CURRENCIES: &[&str] = &[
    "usd", "eur", "gbp", "huf", "jpy", "krw", "idr", "kwd", "bhd", "mxn",
];

/// Every i64, with the edges and the bounds drawn often.
fn any_i64() -> impl Strategy<Value = i64> {
    prop_oneof![
        2 => any::<i64>(),
        1 => -2_000_000_000_000i64..=2_000_000_000_000,
        1 => select(vec![
            i64::MIN,
            i64::MIN + 1,
            -MAX_LINE_AMOUNT - 1,
            -MAX_LINE_AMOUNT,
            -1,
            0,
            1,
            49,
            50,
            MAXIMUM_CHARGE.0,
            MAXIMUM_CHARGE.0 + 1,
            MAX_LINE_AMOUNT,
            MAX_LINE_AMOUNT + 1,
            i64::MAX - 1,
            i64::MAX,
        ]),
    ]
}

/// Lines: a few, or hundreds (beyond the API's 100, as a direct caller could send).
fn lines() -> impl Strategy<Value = Vec<i64>> {
    prop_oneof![
        prop::collection::vec(any_i64(), 0..=8),
        prop::collection::vec(any_i64(), 90..=300),
        prop::collection::vec(select(vec![MAX_LINE_AMOUNT, -MAX_LINE_AMOUNT]), 95..=105),
    ]
}

/// For three-decimal currencies, mostly on the step (one amount in ten as drawn).
fn on_step(raw: impl Strategy<Value = i64>, step: i64) -> impl Strategy<Value = i64> {
    (raw, 0..10u8).prop_map(move |(a, roll)| {
        if roll == 0 || a <= step {
            a
        } else {
            a - a % step
        }
    })
}

/// Invoices' amounts due: a few small ones (around the minimums), many typical ones (around the
/// maximum), or a few extreme ones (up to i64::MAX, negative, anything).
fn amounts_due(step: i64) -> impl Strategy<Value = Vec<i64>> {
    let small = prop_oneof![1..=120i64, select(vec![29, 30, 49, 50, 51, 1_000])];
    let typical = prop_oneof![
        1..=4_000_000i64,
        select(vec![
            MAXIMUM_CHARGE.0 - 1_000,
            MAXIMUM_CHARGE.0,
            MAXIMUM_CHARGE.0 + 1
        ]),
    ];
    let extreme = prop_oneof![
        1..=i64::MAX,
        select(vec![i64::MAX / 2, i64::MAX / 2 + 1, i64::MAX - 1, i64::MAX]),
        any_i64(),
    ];
    prop_oneof![
        2 => prop::collection::vec(on_step(small, step), 1..=4),
        2 => prop::collection::vec(on_step(typical, step), 1..=60),
        1 => prop::collection::vec(on_step(extreme, step), 1..=8),
    ]
}

/// Percentages in thousandths of a percent, 100 % and 0 % often.
fn thousandths() -> impl Strategy<Value = i64> {
    prop_oneof![Just(100_000i64), Just(0i64), 0..=100_000i64]
}

/// The rounding rule in i128: `round_half_up(amount × pct / 100)` on the currency's step.
fn oracle_fee(amount: i64, thousandths: i64, step: i64) -> i128 {
    if amount <= 0 || thousandths == 0 {
        return 0;
    }
    let numerator = i128::from(amount) * i128::from(thousandths);
    let denominator = 100_000 * i128::from(step);
    (2 * numerator + denominator) / (2 * denominator) * i128::from(step)
}

/// What Stripe's limits say of an exact total.
fn within_limits(total: i128, currency: Currency) -> bool {
    let minimum = limits::minimum_charge(currency).map_or(1, |m| i128::from(m.amount.0));
    total >= minimum.max(1)
        && total <= i128::from(MAXIMUM_CHARGE.0)
        && total % i128::from(currency.stripe_step()) == 0
}

proptest! {
    #[test]
    fn checked_sums_are_exact_or_an_overflow(values in prop::collection::vec(any_i64(), 0..=300)) {
        let got = MinorUnits::checked_sum(values.iter().copied().map(MinorUnits));
        // The sum is made in order: every running sum must fit, not only the last.
        let mut running: i128 = 0;
        let mut fits = true;
        for v in &values {
            running += i128::from(*v);
            fits &= i64::try_from(running).is_ok();
        }
        if fits {
            prop_assert_eq!(got, Ok(MinorUnits(running as i64)));
        } else {
            prop_assert_eq!(got, Err(MoneyError::Overflow));
        }
    }

    #[test]
    fn an_invoice_total_is_exact_or_refused_naming_every_bad_line(amounts in lines()) {
        let got = limits::invoice_total(&amounts);
        let mut running: i128 = 0;
        let mut first_bad_sum = None;
        let mut bad_lines = Vec::new();
        for (index, amount) in amounts.iter().enumerate() {
            if i128::from(*amount).abs() > i128::from(MAX_LINE_AMOUNT) {
                bad_lines.push(index);
            }
            running += i128::from(*amount);
            if first_bad_sum.is_none() && running.abs() > i128::from(MAX_INVOICE_TOTAL) {
                first_bad_sum = Some(index);
            }
        }
        match got {
            Ok(total) => {
                prop_assert!(bad_lines.is_empty() && first_bad_sum.is_none());
                prop_assert_eq!(i128::from(total.0), running);
            }
            Err(problems) => {
                let lines: Vec<usize> = problems.iter().filter_map(|p| match p {
                    LinesError::LineTooLarge { index, .. } => Some(*index),
                    LinesError::SumTooLarge { .. } => None,
                }).collect();
                let sums: Vec<usize> = problems.iter().filter_map(|p| match p {
                    LinesError::SumTooLarge { index } => Some(*index),
                    LinesError::LineTooLarge { .. } => None,
                }).collect();
                prop_assert_eq!(lines, bad_lines);
                prop_assert_eq!(sums, first_bad_sum.into_iter().collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn a_charge_passes_the_limits_exactly_when_its_exact_total_is_within_them(
        (code, amounts) in select(CURRENCIES).prop_flat_map(|code| {
            let step = Currency::parse(code).unwrap().stripe_step();
            (Just(code), amounts_due(step))
        }),
        pct in thousandths(),
    ) {
        let currency = Currency::parse(code).unwrap();
        let step = currency.stripe_step();
        let items: Vec<QuoteItem> = amounts.iter().enumerate().map(|(i, a)| QuoteItem {
            invoice_id: i as i64 + 1,
            invoice_number: format!("INV-{i:03}"),
            currency: code.into(),
            amount_due: *a,
        }).collect();
        let policy = FeePolicy { default_percent: Decimal::new(pct, 3), ..FeePolicy::default() };
        match quote(&items, PaymentMethodType::Card, &policy) {
            Ok(q) => {
                // Every amount was chargeable; the total is exact.
                let mut total: i128 = 0;
                let mut fees: i128 = 0;
                for (line, amount) in q.lines.iter().zip(&amounts) {
                    prop_assert!(*amount > 0 && amount % step == 0);
                    let fee = oracle_fee(*amount, pct, step);
                    prop_assert_eq!(i128::from(line.fee.amount.0), fee);
                    fees += fee;
                    total += i128::from(*amount) + fee;
                }
                prop_assert_eq!(i128::from(q.total.amount.0), total);
                match limits::check_quote(&q) {
                    Ok(()) => prop_assert!(within_limits(total, currency), "{total} passed"),
                    Err(e) => {
                        prop_assert!(!within_limits(total, currency), "{total} refused: {e}");
                        let message = e.to_string();
                        for line in &q.lines {
                            prop_assert!(message.contains(&line.invoice_number), "{message}");
                        }
                        if fees > 0 {
                            prop_assert!(message.contains("fee"), "{message}");
                        }
                        let is_limit = matches!(e.limit, Limit::Minimum(_) | Limit::Maximum);
                        prop_assert!(is_limit, "{e:?}");
                    }
                }
            }
            Err(QuoteError::NothingDue { .. }) => {
                prop_assert!(amounts.iter().any(|a| *a <= 0));
            }
            Err(QuoteError::Money { source: MoneyError::NotStripeRepresentable { .. }, .. }) => {
                prop_assert!(amounts.iter().any(|a| a % step != 0));
            }
            Err(QuoteError::Overflow | QuoteError::Money { source: MoneyError::Overflow, .. }) => {
                // Only when the exact total (or a line with its fee) leaves i64.
                let mut total: i128 = 0;
                let mut fits = true;
                for a in &amounts {
                    let line = i128::from(*a) + oracle_fee(*a, pct, step);
                    total += line;
                    fits &= i64::try_from(line).is_ok() && i64::try_from(total).is_ok();
                }
                prop_assert!(!fits, "overflow reported for {amounts:?}");
            }
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
        }
    }
}
