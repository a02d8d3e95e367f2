//! Stripe's amount limits and sums that cannot wrap (issue 12, items 3 and 4), from the outside:
//! through the JSON API, the pages and the daily run against localstripe. A charge below the
//! currency's minimum or above eight digits (or a three-decimal amount not ending in 0) is refused
//! with 422 naming the invoices and the limit, on quote and on pay, and no PaymentIntent exists in
//! localstripe afterwards; an invoice whose lines cannot be added up is refused at creation and
//! does not exist; the daily run skips a charge Stripe would refuse, says why, and counts no attempt.

use serde_json::{Value, json};

use paydesk_tests::host::Answer;

use crate::payments::{PAYER, Shop, shop, stripe_request};

const PASSWORD: &str = "limits of stripe password";

/// Every PaymentIntent localstripe holds.
fn intents_at_stripe(shop: &Shop) -> Vec<Value> {
    stripe_request(&shop.stripe, "GET", "/v1/payment_intents?limit=100", &[])["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A 422 `invalid_input` whose message and `invoice_ids` field error contain every one of `needles`.
fn refused_naming(answer: &Answer, needles: &[&str]) {
    assert_eq!(answer.status, 422, "{}", answer.text);
    let error = &answer.body["error"];
    assert_eq!(error["kind"], "invalid_input", "{}", answer.text);
    let field = error["fields"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["field"] == "invoice_ids"))
        .unwrap_or_else(|| panic!("no field error on invoice_ids: {}", answer.text));
    for needle in needles {
        for text in [&error["message"], &field["message"]] {
            assert!(
                text.as_str().is_some_and(|t| t.contains(needle)),
                "`{needle}` missing: {}",
                answer.text
            );
        }
    }
}

fn quote(shop: &Shop, client: &paydesk_tests::host::ApiClient, ids: &[i64]) -> Answer {
    client.post(
        &shop.path("/payments/quote"),
        json!({"invoice_ids": ids, "method_type": "card"}),
    )
}

fn pay(shop: &Shop, client: &paydesk_tests::host::ApiClient, ids: &[i64], with: Value) -> Answer {
    client.post(
        &shop.path("/payments"),
        json!({"invoice_ids": ids, "pay_with": with}),
    )
}

/// Quote and pay `ids` as the portal user (saved method) and the agent (saved method and new
/// details): each refused naming `needles`; nothing made at Stripe, no payment record.
fn refused_everywhere(shop: &Shop, ids: &[i64], needles: &[&str]) {
    for client in [&shop.user, &shop.admin] {
        refused_naming(&quote(shop, client, ids), needles);
        refused_naming(&pay(shop, client, ids, json!("saved_method")), needles);
    }
    refused_naming(
        &pay(shop, &shop.admin, ids, json!({"new_details": ["card"]})),
        needles,
    );
    assert!(
        shop.intent_creations().is_empty(),
        "{:#?}",
        shop.intent_creations()
    );
    assert_eq!(intents_at_stripe(shop), Vec::<Value>::new());
    for id in ids {
        assert_eq!(shop.invoice_view(*id)["payments"], json!([]));
    }
}

#[test]
fn a_usd_0_30_invoice_is_refused_below_stripes_minimum_on_quote_and_pay() {
    let shop = shop("limits-minimum", "usd", |_| {});
    let invoice = shop.invoice("usd", 30);
    // 0.30 + 2.9 % = 0.31: the amount that would be sent, fee included.
    refused_everywhere(
        &shop,
        &[invoice],
        &[
            "USD 0.31 (USD 0.30 due + USD 0.01 fee) is below Stripe's minimum charge of USD 0.50",
            "for invoice INV-0001",
        ],
    );
    // With a second small invoice the one payment reaches the minimum: 0.31 + 0.31.
    let other = shop.invoice("usd", 30);
    let together = quote(&shop, &shop.user, &[invoice, other]);
    assert_eq!(together.status, 200, "{}", together.text);
    assert_eq!(together.body["total"], 62);
    let paid = pay(&shop, &shop.user, &[invoice, other], json!("saved_method"));
    assert_eq!(paid.status, 201, "{}", paid.text);
    assert_eq!(paid.body["status"], "succeeded", "{}", paid.text);
    let at_stripe = intents_at_stripe(&shop);
    assert_eq!(at_stripe.len(), 1, "{at_stripe:?}");
    assert_eq!(at_stripe[0]["amount"], 62);
}

#[test]
fn a_usd_10_000_000_invoice_is_refused_above_stripes_maximum_on_quote_and_pay() {
    let shop = shop("limits-maximum", "usd", |_| {});
    let invoice = shop.invoice("usd", 1_000_000_000);
    assert_eq!(shop.invoice_view(invoice)["amount_due"], 1_000_000_000);
    refused_everywhere(
        &shop,
        &[invoice],
        &[
            "USD 10290000.00 (USD 10000000.00 due + USD 290000.00 fee) is above Stripe's maximum charge of USD 999999.99",
            "for invoice INV-0001",
            "eight digits",
        ],
    );
    // Paid together, invoices each below the maximum are refused when their one payment is not.
    let a = shop.invoice("usd", 60_000_000);
    let b = shop.invoice("usd", 60_000_000);
    assert_eq!(quote(&shop, &shop.user, &[a]).status, 200);
    refused_naming(
        &quote(&shop, &shop.user, &[a, b]),
        &["invoices INV-0002, INV-0003", "pay fewer invoices at once"],
    );
    refused_naming(
        &pay(&shop, &shop.user, &[a, b], json!("saved_method")),
        &["invoices INV-0002, INV-0003"],
    );
    assert_eq!(intents_at_stripe(&shop), Vec::<Value>::new());
}

#[test]
fn lines_whose_sum_would_wrap_are_refused_at_creation_and_no_invoice_exists() {
    let shop = shop("limits-overflow", "usd", |_| {});
    // The probe: the sum wrapped to 1000 and the invoice could be paid for 10.29.
    let created = shop.admin.post(
        &shop.path("/invoices"),
        json!({"number": "WRAP-1", "customer_id": shop.customer_id, "currency": "usd",
               "issue_date": "2026-11-01", "due_date": "2026-11-30",
               "lines": [{"description": "a", "amount": i64::MAX},
                         {"description": "b", "amount": i64::MAX},
                         {"description": "c", "amount": 1002}]}),
    );
    assert_eq!(created.status, 422, "{}", created.text);
    assert_eq!(created.body["error"]["kind"], "invalid_input");
    let fields: Vec<&str> = created.body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["lines[0].amount", "lines", "lines[1].amount"],
        "{}",
        created.text
    );
    let invoices = shop.admin.get(&shop.path("/invoices")).body;
    assert_eq!(invoices, json!([]), "no invoice was created");
    // A credit as large as i64 allows is refused too (its absolute value does not exist in i64).
    let created = shop.admin.post(
        &shop.path("/invoices"),
        json!({"number": "WRAP-2", "customer_id": shop.customer_id, "currency": "usd",
               "issue_date": "2026-11-01", "due_date": "2026-11-30",
               "lines": [{"description": "a", "amount": i64::MIN}]}),
    );
    assert_eq!(created.status, 422, "{}", created.text);
    assert_eq!(shop.admin.get(&shop.path("/invoices")).body, json!([]));
    // The most the document allows — 100 lines of 10¹² — is kept exactly, and refused only when
    // it is to be charged, for Stripe's maximum.
    let lines: Vec<Value> = (0..100)
        .map(|_| json!({"description": "x", "amount": 1_000_000_000_000i64}))
        .collect();
    let created = shop.admin.post(
        &shop.path("/invoices"),
        json!({"number": "BIG-1", "customer_id": shop.customer_id, "currency": "usd",
               "issue_date": "2026-11-01", "due_date": "2026-11-30", "lines": lines}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["amount_due"], 100_000_000_000_000i64);
    let id = created.body["id"].as_i64().unwrap();
    refused_naming(
        &quote(&shop, &shop.admin, &[id]),
        &["above Stripe's maximum charge", "for invoice BIG-1"],
    );
    assert_eq!(intents_at_stripe(&shop), Vec::<Value>::new());
}

#[test]
fn jpy_49_is_refused_and_jpy_50_accepted() {
    let shop = shop("limits-jpy", "jpy", |s| {
        s.stripe_processing_fee_percentage = "0".into()
    });
    let small = shop.invoice("jpy", 49);
    refused_everywhere(
        &shop,
        &[small],
        &[
            "JPY 49 is below Stripe's minimum charge of JPY 50",
            "for invoice INV-0001",
        ],
    );
    let enough = shop.invoice("jpy", 50);
    let quoted = quote(&shop, &shop.user, &[enough]);
    assert_eq!(quoted.status, 200, "{}", quoted.text);
    assert_eq!(quoted.body["total"], 50);
    let paid = pay(&shop, &shop.user, &[enough], json!("saved_method"));
    assert_eq!(paid.status, 201, "{}", paid.text);
    assert_eq!(paid.body["status"], "succeeded", "{}", paid.text);
    let at_stripe = intents_at_stripe(&shop);
    assert_eq!(at_stripe.len(), 1, "{at_stripe:?}");
    assert_eq!(
        (&at_stripe[0]["amount"], &at_stripe[0]["currency"]),
        (&json!(50), &json!("jpy"))
    );
}

#[test]
fn a_kwd_amount_not_ending_in_zero_is_refused() {
    let shop = shop("limits-kwd", "kwd", |_| {});
    let invoice = shop.invoice("kwd", 12_345);
    refused_everywhere(
        &shop,
        &[invoice],
        &[
            "INV-0001",
            "KWD amounts must be a multiple of 10 minor units",
        ],
    );
    // KWD 12.340 is fine (2.9 % fee: 0.358 → 0.360, on Stripe's 10-fils step).
    let fine = shop.invoice("kwd", 12_340);
    let quoted = quote(&shop, &shop.user, &[fine]);
    assert_eq!(quoted.status, 200, "{}", quoted.text);
    assert_eq!(quoted.body["total"], 12_700);
}

#[test]
fn the_portal_and_the_agent_page_say_why_a_below_minimum_invoice_cannot_be_paid() {
    let shop = shop("limits-pages", "usd", |_| {});
    let invoice = shop.invoice("usd", 30);
    let base = shop.admin.base.clone();
    let why = "USD 0.31 (USD 0.30 due + USD 0.01 fee) is below Stripe's minimum charge of USD 0.50 for invoice INV-0001";
    // The pages escape the apostrophe.
    let shown = |html: &str| {
        html.replace("&#39;", "'")
            .replace("&#x27;", "'")
            .contains(why)
    };

    shop.host.user_password(&shop.tenant, PAYER, PASSWORD);
    let payer =
        paydesk_tests::signin::session_cookie(&base, shop.tenant.as_str(), PAYER, PASSWORD, false);
    let cookies = [payer];
    let pay_page = paydesk_tests::signin::send(
        &base,
        "GET",
        &format!("/portal/pay?ids={invoice}"),
        &cookies,
        &[],
        None,
    );
    assert_eq!(pay_page.status, 303, "{}", pay_page.text);
    let back = paydesk_tests::signin::send(&base, "GET", &pay_page.location, &cookies, &[], None);
    assert_eq!(back.status, 200, "{}", back.text);
    assert!(shown(&back.text), "the portal says why: {}", back.text);

    shop.host
        .agent_with_password(&shop.tenant, "ada@limits.test", PASSWORD, false, true);
    let agent = paydesk_tests::signin::session_cookie(
        &base,
        shop.tenant.as_str(),
        "ada@limits.test",
        PASSWORD,
        true,
    );
    let page = paydesk_tests::signin::send(
        &base,
        "GET",
        &format!("/app/invoices/{invoice}"),
        &[agent],
        &[],
        None,
    );
    assert_eq!(page.status, 200, "{}", page.text);
    let section = page
        .text
        .split("id=\"receive-payment\"")
        .nth(1)
        .expect("the payment section");
    assert!(section.contains("id=\"cannot-pay\""), "{section}");
    assert!(shown(section), "the agent's page says why: {section}");
    assert!(
        !section.contains("id=\"pay-saved\""),
        "no payment is offered that Stripe would refuse: {section}"
    );
    assert!(shop.intent_creations().is_empty());
}

#[test]
fn the_daily_run_skips_a_below_minimum_invoice_with_the_reason_and_counts_no_attempt() {
    let shop = shop("limits-autopay", "usd", |s| {
        s.enableautostripepayment = true;
        s.halointegrator_stripe = true;
        s.stripetakepaymentonduedate = true;
        s.autopay_max_attempts = 2;
        s.autopay_retry_interval_days = 1;
    });
    let r = shop.admin.post(
        &shop.path("/recurring-invoices"),
        json!({"customer_id": shop.customer_id, "currency": "usd", "description": "Monthly fee",
               "amount": 30, "next_date": "2026-12-01", "due_days": 0}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let why = "below Stripe's minimum charge of USD 0.50";
    // Three days running, more than the two attempts allowed: each is a skip for the same reason,
    // never an attempt (an attempt would be retried, then given up).
    for date in ["2026-12-01", "2026-12-02", "2026-12-03"] {
        let report = shop
            .host
            .app
            .run_autopay(&shop.tenant, Some(date), false, &mut |_, _| {})
            .expect("the run");
        assert!(report.errors.is_empty(), "{date}: {:?}", report.errors);
        let invoice = shop.admin.get(&shop.path("/invoices")).body[0].clone();
        let number = invoice["number"].as_str().unwrap().to_string();
        // The plan (what `autopay --dry-run` shows) already says it is skipped, and why.
        let planned = report
            .plan
            .iter()
            .find(|d| d.invoice_number == number)
            .unwrap_or_else(|| panic!("{date}: {:?}", report.plan));
        assert!(!planned.charge, "{date}: {planned:?}");
        assert!(planned.reason.contains(why), "{date}: {planned:?}");
        let result = report
            .results
            .iter()
            .find(|r| r.invoice_id == invoice["id"].as_i64().unwrap())
            .unwrap_or_else(|| panic!("{date}: {:?}", report.results));
        assert_eq!(result.status, None, "{date}: {result:?}");
        assert!(result.message.contains(why), "{date}: {result:?}");
        assert!(
            result.message.contains(&number),
            "{date}: names the invoice: {result:?}"
        );
    }
    let audit = shop.admin.get(&shop.path("/autopay/audit")).body;
    let skips: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "skip" && a["reason"].as_str().is_some_and(|r| r.contains(why)))
        .collect();
    assert_eq!(skips.len(), 3, "one skip with the reason per run: {audit}");
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["action"] != "charge"),
        "nothing was charged: {audit}"
    );
    assert!(shop.intent_creations().is_empty());
    assert_eq!(intents_at_stripe(&shop), Vec::<Value>::new());
    let invoice = &shop.admin.get(&shop.path("/invoices")).body[0];
    assert_eq!(invoice["status"], "awaiting_payment");
    assert_eq!(invoice["payments"], json!([]));
}
