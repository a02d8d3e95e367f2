//! One clock for ordering: what paydesk read from Stripe is placed on Stripe's clock (the `Date` of
//! Stripe's answer), the same clock as events' `created`, so a host whose clock is off by seconds
//! neither drops a real event as stale nor lets an older event undo what it read.
//!
//! The recorder between the host and localstripe shifts Stripe's `Date` by ±5 s: Stripe's clock
//! as a host 5 s behind or ahead of it sees it. Events are built on that same shifted clock.

use paydesk_tests::webhook::{fixture_event, fixture_intent};

use crate::payments::{pending_payment, shop};

/// Stripe's clock as the host sees it through the recorder.
fn stripe_clock(offset: i64) -> i64 {
    paydesk_host::db::now() + offset
}

#[test]
fn with_the_host_five_seconds_ahead_of_stripe_an_event_after_a_read_is_applied() {
    let shop = shop("clock-behind", "usd", |_| {});
    shop.recorder.set_clock_offset(-5);
    for (event_type, status) in [
        ("payment_intent.processing", "processing"),
        ("payment_intent.requires_action", "requires_action"),
    ] {
        // Creating the intent is a read: the record holds Stripe's `Date` of that answer.
        let (invoice, intent, group, total) = pending_payment(&shop, 2_000);
        // Stripe moves on a second later, on its own clock (5 s behind the host's).
        let created = stripe_clock(-5) + 1;
        let pi = fixture_intent(&intent, status, total, "usd", &group);
        let (code, body) = shop.send_event(&fixture_event(
            event_type,
            &format!("evt_behind_{status}_{invoice}"),
            &pi,
            created,
        ));
        assert_eq!(code, 200, "{body}");
        assert!(
            body.contains("applied"),
            "a real event after the read must not be stale: {body}"
        );
        let view = shop.invoice_view(invoice);
        assert_eq!(view["payments"][0]["status"], status, "{view}");
        assert_eq!(view["payments"][0]["observed_at"], created, "{view}");
    }
}

#[test]
fn with_the_host_five_seconds_behind_stripe_an_event_older_than_a_read_changes_nothing() {
    let shop = shop("clock-ahead", "usd", |_| {});
    shop.recorder.set_clock_offset(5);
    // Taken before the read: an event a second before this, on Stripe's clock, is older than
    // anything the read can have seen.
    let before_read = stripe_clock(5);
    let (invoice, intent, group, total) = pending_payment(&shop, 2_000);
    let older = fixture_event(
        "payment_intent.requires_action",
        &format!("evt_older_{invoice}"),
        &fixture_intent(&intent, "requires_action", total, "usd", &group),
        before_read - 1,
    );
    let (code, body) = shop.send_event(&older);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("stale"), "{body}");
    let view = shop.invoice_view(invoice);
    assert_eq!(
        view["payments"][0]["status"], "requires_payment_method",
        "what was read stands: {view}"
    );
    assert!(
        view["payments"][0]["observed_at"].as_i64().unwrap() >= before_read,
        "the read is on Stripe's clock, not the host's: {view}"
    );

    // What Stripe does after the read still moves the record.
    let newer = fixture_event(
        "payment_intent.processing",
        &format!("evt_newer_{invoice}"),
        &fixture_intent(&intent, "processing", total, "usd", &group),
        stripe_clock(5) + 1,
    );
    let (code, body) = shop.send_event(&newer);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("applied"), "{body}");
    assert_eq!(
        shop.invoice_view(invoice)["payments"][0]["status"],
        "processing"
    );
}
