//! Processing-fee quotes computed inside the real component, against amounts worked out by hand:
//! two-, zero- and three-decimal currencies, with half-way cases that must round up.

use paydesk_host::contract::PaymentMethodType;
use paydesk_host::contract::exports::paydesk::stripe::payments::QuoteItem;
use paydesk_tests::host::TestHost;

fn item(id: i64, currency: &str, amount_due: i64) -> QuoteItem {
    QuoteItem {
        invoice_id: id,
        invoice_number: format!("INV-{id}"),
        currency: currency.into(),
        amount_due,
    }
}

/// (fee, total) of each line and the grand total, quoted by the component at `percent`.
fn quote(currency: &str, percent: &str, amounts: &[i64]) -> (Vec<(i64, i64)>, i64) {
    // Quotes never reach Stripe; the base is unroutable on purpose.
    let host = TestHost::new("http://127.0.0.1:9");
    let tenant = host.tenant("fees", "sk_test_fees", |s| {
        s.stripe_processing_fee_percentage = percent.into();
        s.stripe_currency = currency.into();
    });
    let items: Vec<_> = amounts
        .iter()
        .enumerate()
        .map(|(i, a)| item(i as i64 + 1, currency, *a))
        .collect();
    let q = host
        .app
        .quote(&tenant, &items, PaymentMethodType::Card)
        .expect("quote");
    for line in &q.lines {
        assert_eq!(line.fee.currency, currency);
        assert_eq!(line.total.amount, line.amount_due.amount + line.fee.amount);
    }
    (
        q.lines
            .iter()
            .map(|l| (l.fee.amount, l.total.amount))
            .collect(),
        q.total.amount,
    )
}

#[test]
fn usd_fees_round_half_up_to_the_cent() {
    // 2.9 % of $10.50 = 30.45¢ → 30¢; of $15.00 = 43.5¢ (half-way) → 44¢.
    let (lines, total) = quote("usd", "2.9", &[1050, 1500]);
    assert_eq!(lines, vec![(30, 1080), (44, 1544)]);
    assert_eq!(total, 2624);
}

#[test]
fn jpy_fees_are_whole_yen() {
    // 3.5 % of ¥1,300 = ¥45.5 (half-way) → ¥46; of ¥1,234 = ¥43.19 → ¥43.
    let (lines, total) = quote("jpy", "3.5", &[1300, 1234]);
    assert_eq!(lines, vec![(46, 1346), (43, 1277)]);
    assert_eq!(total, 2623);
}

#[test]
fn kwd_fees_are_in_stripes_ten_fils_steps() {
    // 2.5 % of KWD 13.000 = 0.325 (half-way between 0.320 and 0.330) → 0.330;
    // of KWD 12.340 = 0.3085 → 0.310.
    let (lines, total) = quote("kwd", "2.5", &[13_000, 12_340]);
    assert_eq!(lines, vec![(330, 13_330), (310, 12_650)]);
    assert_eq!(total, 25_980);
}

#[test]
fn invoices_in_two_currencies_are_refused_with_a_clear_error() {
    let host = TestHost::new("http://127.0.0.1:9");
    let tenant = host.tenant("mixed", "sk_test_mixed", |s| {
        s.stripe_processing_fee_percentage = "1".into()
    });
    let err = host
        .app
        .quote(
            &tenant,
            &[item(1, "usd", 100), item(2, "eur", 100)],
            PaymentMethodType::Card,
        )
        .expect_err("mixed currencies must be refused");
    let message = err.to_string();
    assert!(
        message.contains("one currency") && message.contains("INV-2"),
        "{message}"
    );
}
