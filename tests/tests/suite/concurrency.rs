//! Money moves once, whoever clicks at the same moment: payers racing on one invoice through the
//! JSON API against localstripe, released together by a barrier, round after round — two portal
//! users of one customer, one user four times, an agent and a portal user, two overlapping
//! "Pay all" requests ({1,2} and {2,3}), an agent's charge of one invoice and a portal user
//! paying it, two agents' part charges that together exceed what is due, and the daily run charging an invoice a portal user is
//! paying, two daily runs taking over one abandoned attempt, and two agents refunding most of one
//! payment at once (money back moves once too). The racers are spread over three
//! hosts on one database (the shop's and two peers, each serving): on PostgreSQL
//! (`PAYDESK_TEST_DB=postgres`) that is three hosts on one server. (Two `paydesk serve` processes
//! on one database race in `host/tests/serve_processes.rs`, three on PostgreSQL in
//! `host/tests/hosts_postgres.rs`.)
//!
//! After each scenario, from localstripe's side: every invoice has exactly one succeeded
//! PaymentIntent, its record and invoice agree, it carries exactly one fee line, and every loser was
//! told so with a 409 in the documented error shape (or, for the daily run, gave its attempt back).

use std::collections::BTreeMap;
use std::sync::Barrier;

use serde_json::{Value, json};

use paydesk_host::contract::PaymentStatus;
use paydesk_host::contract::exports::paydesk::stripe::events::InvoiceCreatedOutcome;
use paydesk_host::db::{NewInvoice, NewRecurring};
use paydesk_tests::host::{Answer, ApiClient, TestHost};

use crate::payments::{Shop, fee_lines, shop, stripe_request};

/// Rounds per scenario.
const ROUNDS: usize = 50;

/// One racer: a call made when the gate opens.
type Racer<'a> = Box<dyn FnOnce() -> Told + Send + 'a>;

/// What one racer was told.
#[derive(Debug)]
enum Told {
    /// 201: the payment, with its intent and status.
    Paid { intent: String, status: String },
    /// 409 in the documented shape, with its message.
    Refused(String),
    /// The daily run gave its attempt back (or skipped): nothing sent to Stripe.
    RunStoodBack(String),
    /// The daily run charged.
    RunCharged(PaymentStatus),
}

fn told(answer: Answer) -> Told {
    match answer.status {
        201 => Told::Paid {
            intent: answer.body["intent_id"].as_str().unwrap_or("").to_string(),
            status: answer.body["status"].as_str().unwrap_or("").to_string(),
        },
        409 => {
            let error = &answer.body["error"];
            assert_eq!(error["kind"], "conflict", "{}", answer.text);
            let message = error["message"].as_str().unwrap_or("");
            assert!(!message.is_empty(), "{}", answer.text);
            Told::Refused(message.to_string())
        }
        other => panic!("a racer was answered {other}: {}", answer.text),
    }
}

/// Release `racers` together and collect what each was told, in order.
fn race(racers: Vec<Racer<'_>>) -> Vec<Told> {
    let gate = Barrier::new(racers.len());
    std::thread::scope(|scope| {
        let handles: Vec<_> = racers
            .into_iter()
            .map(|racer| {
                let gate = &gate;
                scope.spawn(move || {
                    gate.wait();
                    racer()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// The shop's host and two more on its database, each serving: racer `k` goes to host `k % 3`.
struct Hosts {
    peers: Vec<TestHost>,
    bases: Vec<String>,
}

fn hosts(shop: &Shop) -> Hosts {
    let peers: Vec<TestHost> = (0..2).map(|_| shop.host.peer()).collect();
    let mut bases = vec![shop.admin.base.clone()];
    bases.extend(peers.iter().map(|p| p.serve().base));
    Hosts { peers, bases }
}

impl Hosts {
    /// `client`'s credentials on host `k`.
    fn on(&self, k: usize, client: &ApiClient) -> ApiClient {
        ApiClient {
            base: self.bases[k % self.bases.len()].clone(),
            token: client.token.clone(),
        }
    }
}

/// A portal payment of `invoices` with the customer's saved card by `client`.
fn pay<'a>(client: ApiClient, path: &'a str, invoices: Vec<i64>) -> Racer<'a> {
    Box::new(move || {
        told(client.post(
            path,
            json!({"invoice_ids": invoices, "pay_with": "saved_method"}),
        ))
    })
}

/// Another portal user of the shop's customer, seeing all its invoices; their API client.
fn second_user(shop: &Shop) -> ApiClient {
    let user = shop.admin.post(
        &shop.path("/users"),
        json!({"customer_id": shop.customer_id, "name": "Sam Second", "email": "second@customer.test", "invoice_access_level": "customer"}),
    );
    assert_eq!(user.status, 201, "{}", user.text);
    let token = shop.admin.post(
        &shop.path(&format!("/users/{}/tokens", user.body["id"])),
        json!({}),
    );
    shop.admin.with_token(token.body["token"].as_str().unwrap())
}

/// Every PaymentIntent localstripe holds, page by page.
fn all_intents(shop: &Shop) -> Vec<Value> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut path = "/v1/payment_intents?limit=100".to_string();
        if let Some(a) = &after {
            path.push_str(&format!("&starting_after={a}"));
        }
        let page = stripe_request(&shop.stripe, "GET", &path, &[]);
        let data = page["data"].as_array().cloned().unwrap_or_default();
        after = data
            .last()
            .and_then(|pi| pi["id"].as_str().map(String::from));
        all.extend(data);
        if page["has_more"] != true || after.is_none() {
            return all;
        }
    }
}

/// localstripe's side and paydesk's records after a scenario: each of `invoices` has exactly one
/// succeeded intent — the one a winner was told, if a payer won — is paid, and has one fee line.
fn check_paid_once(shop: &Shop, invoices: &[i64], winners: &BTreeMap<i64, String>) {
    let mut succeeded: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for pi in all_intents(shop) {
        if pi["status"] != "succeeded" {
            continue;
        }
        let ids = pi["metadata"]["paydesk_invoice_ids"].as_str().unwrap_or("");
        for id in ids.split(',').filter_map(|s| s.trim().parse::<i64>().ok()) {
            succeeded
                .entry(id)
                .or_default()
                .push(pi["id"].as_str().unwrap().to_string());
        }
    }
    for invoice in invoices {
        let intents = succeeded.get(invoice).cloned().unwrap_or_default();
        assert_eq!(
            intents.len(),
            1,
            "invoice {invoice}: succeeded intents in Stripe {intents:?}"
        );
        if let Some(told) = winners.get(invoice) {
            assert_eq!(
                &intents[0], told,
                "invoice {invoice}: the winner was told another intent"
            );
        }
        let view = shop.invoice_view(*invoice);
        assert_eq!(view["status"], "paid", "invoice {invoice}: {view}");
        assert_eq!(fee_lines(&view).len(), 1, "invoice {invoice}: {view}");
        let records = view["payments"].as_array().cloned().unwrap_or_default();
        let paid: Vec<&Value> = records
            .iter()
            .filter(|r| r["status"] == "succeeded")
            .collect();
        assert_eq!(paid.len(), 1, "invoice {invoice}: {records:?}");
        assert_eq!(
            paid[0]["intent_id"],
            intents[0].as_str(),
            "invoice {invoice}"
        );
    }
}

/// Run `ROUNDS` rounds of `racers_for(round invoices)` on fresh invoices: exactly one racer wins
/// each round, every other is refused with a 409; then check localstripe.
fn rounds<'a>(
    shop: &Shop,
    invoices_per_round: usize,
    racers_for: &dyn Fn(&[i64]) -> Vec<Racer<'a>>,
) {
    let mut all = Vec::new();
    let mut winners = BTreeMap::new();
    let mut refusals: BTreeMap<String, usize> = BTreeMap::new();
    let mut odd = Vec::new();
    for round in 0..ROUNDS {
        let invoices: Vec<i64> = (0..invoices_per_round)
            .map(|i| shop.invoice("usd", 2_000 + (round * 10 + i) as i64))
            .collect();
        let answers = race(racers_for(&invoices));
        let won: Vec<&Told> = answers
            .iter()
            .filter(|t| matches!(t, Told::Paid { .. } | Told::RunCharged(_)))
            .collect();
        assert_eq!(
            won.len(),
            1,
            "round {round}, invoices {invoices:?}: {answers:?}"
        );
        for t in &answers {
            match t {
                Told::Paid { intent, status } => {
                    assert_eq!(status, "succeeded", "round {round}: {answers:?}");
                    for i in &invoices {
                        winners.insert(*i, intent.clone());
                    }
                }
                Told::RunCharged(status) => {
                    assert_eq!(
                        *status,
                        PaymentStatus::Succeeded,
                        "round {round}: {answers:?}"
                    )
                }
                Told::Refused(message) | Told::RunStoodBack(message) => {
                    let kind = if message.contains("in progress") {
                        "a payment in progress"
                    } else if message.contains("already paid") {
                        "already paid"
                    } else {
                        "something else"
                    };
                    if kind == "something else" {
                        odd.push(format!("round {round}: {message}"));
                    }
                    *refusals.entry(kind.to_string()).or_default() += 1;
                }
            }
        }
        all.extend(invoices);
    }
    println!("{ROUNDS} rounds, every invoice paid once; the losers were told {refusals:?}");
    check_paid_once(shop, &all, &winners);
    assert!(
        odd.is_empty(),
        "losers told neither why nor what to do: {odd:?}"
    );
}

#[test]
fn two_portal_users_paying_one_invoice_at_once_charge_it_once() {
    let shop = shop("race-two-users", "usd", |_| {});
    let second = second_user(&shop);
    let path = shop.path("/payments");
    let hosts = hosts(&shop);
    rounds(&shop, 1, &|inv| {
        vec![
            pay(hosts.on(0, &shop.user), &path, inv.to_vec()),
            pay(hosts.on(1, &second), &path, inv.to_vec()),
        ]
    });
}

#[test]
fn one_user_sending_four_payments_at_once_is_charged_once() {
    let shop = shop("race-four-times", "usd", |_| {});
    let path = shop.path("/payments");
    let hosts = hosts(&shop);
    rounds(&shop, 1, &|inv| {
        (0..4)
            .map(|k| pay(hosts.on(k, &shop.user), &path, inv.to_vec()))
            .collect()
    });
}

#[test]
fn an_agent_and_a_portal_user_paying_at_once_charge_once() {
    let shop = shop("race-agent-user", "usd", |_| {});
    let agent = shop
        .admin
        .with_token(&shop.host.agent_token(&shop.tenant, false, true));
    let path = shop.path("/payments");
    let hosts = hosts(&shop);
    rounds(&shop, 1, &|inv| {
        vec![
            pay(hosts.on(1, &agent), &path, inv.to_vec()),
            pay(hosts.on(2, &shop.user), &path, inv.to_vec()),
        ]
    });
}

#[test]
fn overlapping_pay_alls_claim_all_their_invoices_or_none() {
    let shop = shop("race-pay-alls", "usd", |_| {});
    let second = second_user(&shop);
    let hosts = hosts(&shop);
    let path = shop.path("/payments");
    let mut all = Vec::new();
    let mut refused = 0;
    let mut odd = Vec::new();
    for round in 0..ROUNDS {
        let inv: Vec<i64> = (0..3)
            .map(|i| shop.invoice("usd", 3_000 + (round * 10 + i) as i64))
            .collect();
        let answers = race(vec![
            pay(hosts.on(round, &shop.user), &path, vec![inv[0], inv[1]]),
            pay(hosts.on(round + 1, &second), &path, vec![inv[1], inv[2]]),
        ]);
        let won: Vec<usize> = (0..2)
            .filter(|k| matches!(answers[*k], Told::Paid { .. }))
            .collect();
        assert_eq!(won.len(), 1, "round {round}, invoices {inv:?}: {answers:?}");
        let loser = &answers[1 - won[0]];
        if matches!(loser, Told::Refused(m) if m.contains("in progress") || m.contains("already paid"))
        {
            refused += 1;
        } else {
            odd.push(format!("round {round}: {answers:?}"));
        }
        // The loser claimed none of its invoices: its other invoice is still payable, alone.
        let (paid_pair, other) = if won[0] == 0 {
            (vec![inv[0], inv[1]], inv[2])
        } else {
            (vec![inv[1], inv[2]], inv[0])
        };
        let view = shop.invoice_view(other);
        assert_eq!(view["status"], "awaiting_payment", "round {round}: {view}");
        assert!(
            view["payments"].as_array().is_none_or(|p| p.is_empty()),
            "round {round}: the losing pay-all left a record on invoice {other}: {view}"
        );
        let alone = told(shop.user.post(
            &path,
            json!({"invoice_ids": [other], "pay_with": "saved_method"}),
        ));
        assert!(
            matches!(&alone, Told::Paid { status, .. } if status == "succeeded"),
            "{alone:?}"
        );
        all.extend(paid_pair);
        all.push(other);
    }
    println!("{ROUNDS} rounds: one pay-all won each, {refused} refused whole");
    check_paid_once(&shop, &all, &BTreeMap::new());
    assert!(
        odd.is_empty(),
        "losers told neither why nor what to do: {odd:?}"
    );
}

/// A shop whose daily run charges due recurring invoices, with one recurring invoice that never
/// generates by itself during a test (its invoices are made by [`due_recurring_invoice`]).
fn autopay_race_shop(name: &str) -> (Shop, i64) {
    autopay_race_shop_taking(name, true)
}

/// [`autopay_race_shop`], taking automatic payments on the due date or (`false`) when a recurring
/// invoice is created.
fn autopay_race_shop_taking(name: &str, on_due_date: bool) -> (Shop, i64) {
    let shop = shop(name, "usd", |s| {
        s.enableautostripepayment = true;
        s.halointegrator_stripe = true;
        s.stripetakepaymentonduedate = on_due_date;
    });
    let recurring = shop
        .host
        .db()
        .create_recurring(
            &shop.tenant,
            &NewRecurring {
                customer_id: shop.customer_id,
                user_id: None,
                currency: "usd".into(),
                description: "Monthly support".into(),
                amount: 4_000,
                interval_months: 1,
                next_date: "2099-01-01".into(),
                due_days: 0,
            },
        )
        .unwrap()
        .id;
    (shop, recurring)
}

/// Round `round`'s invoice of `recurring`, due before the run of 2026-12-01.
fn due_recurring_invoice(shop: &Shop, recurring: i64, round: usize) -> i64 {
    shop.host
        .db()
        .create_invoice(
            &shop.tenant,
            &NewInvoice {
                number: format!("R-{round:03}"),
                customer_id: shop.customer_id,
                user_id: None,
                currency: "usd".into(),
                issue_date: "2026-11-01".into(),
                due_date: "2026-11-30".into(),
                recurring_invoice_id: Some(recurring),
                lines: vec![("Monthly support".into(), 4_000 + round as i64)],
            },
        )
        .unwrap()
        .id
}

#[test]
fn the_daily_run_and_a_portal_user_paying_one_invoice_at_once_charge_it_once() {
    let (shop, recurring) = autopay_race_shop("race-autopay");
    let hosts = hosts(&shop);
    let path = shop.path("/payments");
    let mut all = Vec::new();
    let mut winners = BTreeMap::new();
    let mut who_won: BTreeMap<&str, usize> = BTreeMap::new();
    for round in 0..ROUNDS {
        let invoice = due_recurring_invoice(&shop, recurring, round);
        let app = &hosts.peers[round % 2].app;
        let tenant = &shop.tenant;
        let answers = race(vec![
            Box::new(move || {
                let r = app
                    .autopay_charge(tenant, invoice, "2026-12-01")
                    .expect("the run's charge answers");
                match r.status {
                    Some(status) => Told::RunCharged(status),
                    None => Told::RunStoodBack(r.message),
                }
            }),
            pay(hosts.on(0, &shop.user), &path, vec![invoice]),
        ]);
        match &answers[..] {
            [Told::RunCharged(PaymentStatus::Succeeded), Told::Refused(m)]
                if m.contains("in progress") || m.contains("already paid") =>
            {
                *who_won.entry("the daily run").or_default() += 1
            }
            [Told::RunStoodBack(m), Told::Paid { intent, status }]
                if status == "succeeded"
                    && (m.contains("in progress")
                        || m.contains("nothing is due")
                        || m.contains("pending")
                        || m.contains("already paid")) =>
            {
                winners.insert(invoice, intent.clone());
                *who_won.entry("the portal user").or_default() += 1
            }
            other => panic!("round {round}: {other:?}"),
        }
        all.push(invoice);
    }
    println!("{ROUNDS} rounds, every invoice paid once; won by {who_won:?}");
    check_paid_once(&shop, &all, &winners);
    // An attempt given back is not counted: the audit trail says why, and no invoice was given up.
    let audit = shop.admin.get(&shop.path("/autopay/audit")).body;
    assert!(
        !audit.to_string().contains("give-up"),
        "a race made the run give up: {audit}"
    );
}

#[test]
fn a_charge_on_invoice_creation_and_a_portal_user_paying_at_once_charge_it_once() {
    let (shop, recurring) = autopay_race_shop_taking("race-created", false);
    let hosts = hosts(&shop);
    let path = shop.path("/payments");
    let mut all = Vec::new();
    let mut winners = BTreeMap::new();
    let mut who_won: BTreeMap<&str, usize> = BTreeMap::new();
    for round in 0..ROUNDS {
        let invoice = due_recurring_invoice(&shop, recurring, round);
        let app = &hosts.peers[round % 2].app;
        let tenant = &shop.tenant;
        let answers = race(vec![
            Box::new(move || {
                match app
                    .invoice_created(tenant, invoice)
                    .expect("the invoice-created event answers")
                {
                    InvoiceCreatedOutcome::Charged(status) => Told::RunCharged(status),
                    InvoiceCreatedOutcome::Nothing(m) | InvoiceCreatedOutcome::Skipped(m) => {
                        Told::RunStoodBack(m)
                    }
                }
            }),
            pay(hosts.on(0, &shop.user), &path, vec![invoice]),
        ]);
        match &answers[..] {
            [Told::RunCharged(PaymentStatus::Succeeded), Told::Refused(m)]
                if m.contains("in progress") || m.contains("already paid") =>
            {
                *who_won.entry("the charge on creation").or_default() += 1
            }
            [Told::RunStoodBack(_), Told::Paid { intent, status }] if status == "succeeded" => {
                winners.insert(invoice, intent.clone());
                *who_won.entry("the portal user").or_default() += 1
            }
            other => panic!("round {round}: {other:?}"),
        }
        all.push(invoice);
    }
    println!("{ROUNDS} rounds, every invoice paid once; won by {who_won:?}");
    check_paid_once(&shop, &all, &winners);
}

#[test]
fn two_runs_taking_over_one_abandoned_attempt_at_once_charge_it_once() {
    let (shop, recurring) = autopay_race_shop("race-takeover");
    let hosts = hosts(&shop);
    let tenant = &shop.tenant;
    // The abandoned attempt is the shop host's; the two runs taking it over are the peers'.
    let run_on = move |app: &paydesk_host::app::App, invoice: i64| -> Told {
        let r = app
            .autopay_charge(tenant, invoice, "2026-12-01")
            .expect("the run's charge answers");
        match r.status {
            Some(status) => Told::RunCharged(status),
            None => Told::RunStoodBack(r.message),
        }
    };
    let mut all = Vec::new();
    let mut took_over = 0;
    for round in 0..ROUNDS {
        let invoice = due_recurring_invoice(&shop, recurring, round);
        // A run whose request never got an answer, and then died: its records are written, its
        // claim is held, and its lease has run out.
        shop.recorder.inject(
            "POST",
            "/v1/payment_intents",
            paydesk_tests::recorder::Fault::ResetBeforeForward,
            100,
        );
        let first = run_on(&shop.host.app, invoice);
        shop.recorder.clear_faults();
        assert!(
            matches!(first, Told::RunCharged(_) | Told::RunStoodBack(_)),
            "round {round}: {first:?}"
        );
        shop.host.expire_autopay_leases(invoice);
        // Two runs (two hosts) take the abandoned attempt over at the same moment.
        let (a, b) = (&hosts.peers[0].app, &hosts.peers[1].app);
        let answers = race(vec![
            Box::new(move || run_on(a, invoice)),
            Box::new(move || run_on(b, invoice)),
        ]);
        let charged = answers
            .iter()
            .filter(|t| matches!(t, Told::RunCharged(PaymentStatus::Succeeded)))
            .count();
        assert_eq!(charged, 1, "round {round}: {answers:?}");
        for t in &answers {
            if let Told::RunStoodBack(m) = t {
                assert!(
                    m.contains("being resolved by another run")
                        || m.contains("being charged or resolved")
                        || m.contains("nothing is due"),
                    "round {round}: {answers:?}"
                );
                took_over += 1;
            }
        }
        all.push(invoice);
    }
    println!("{ROUNDS} rounds, every invoice paid once; {took_over} runs stood back");
    check_paid_once(&shop, &all, &BTreeMap::new());
}

/// An agent's charge of all of one invoice (`/invoices/{id}/charges`) with the saved card.
fn charge<'a>(client: ApiClient, path: String, amount: Option<i64>) -> Racer<'a> {
    Box::new(move || {
        let mut body = json!({"pay_with": "saved_method"});
        if let Some(a) = amount {
            body["amount"] = a.into();
        }
        told(client.post(&path, body))
    })
}

#[test]
fn an_agents_charge_and_a_portal_user_paying_at_once_charge_once() {
    let shop = shop("race-charge-user", "usd", |_| {});
    let agent = shop
        .admin
        .with_token(&shop.host.agent_token(&shop.tenant, false, true));
    let path = shop.path("/payments");
    let hosts = hosts(&shop);
    rounds(&shop, 1, &|inv| {
        vec![
            charge(
                hosts.on(1, &agent),
                shop.path(&format!("/invoices/{}/charges", inv[0])),
                None,
            ),
            pay(hosts.on(2, &shop.user), &path, inv.to_vec()),
        ]
    });
}

#[test]
fn two_part_charges_that_together_exceed_what_is_due_never_both_go_through() {
    let shop = shop("race-two-parts", "usd", |_| {});
    let agents: Vec<ApiClient> = (0..2)
        .map(|_| {
            shop.admin
                .with_token(&shop.host.agent_token(&shop.tenant, false, true))
        })
        .collect();
    let hosts = hosts(&shop);
    let mut invoices = Vec::new();
    for round in 0..ROUNDS / 2 {
        let invoice = shop.invoice("usd", 10_000);
        let path = shop.path(&format!("/invoices/{invoice}/charges"));
        // Each asks for 60%: both together would be more than the invoice.
        let answers: Vec<Answer> = {
            let gate = Barrier::new(2);
            std::thread::scope(|scope| {
                let handles: Vec<_> = agents
                    .iter()
                    .enumerate()
                    .map(|(k, agent)| {
                        let (gate, client, path) = (&gate, hosts.on(k + 1, agent), path.clone());
                        scope.spawn(move || {
                            gate.wait();
                            client.post(&path, json!({"pay_with": "saved_method", "amount": 6_000}))
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            })
        };
        let won = answers.iter().filter(|a| a.status == 201).count();
        assert_eq!(
            won,
            1,
            "round {round}: {:?}",
            answers.iter().map(|a| &a.text).collect::<Vec<_>>()
        );
        for a in answers.iter().filter(|a| a.status != 201) {
            // Refused while the other was open, claimed after the other took its part, or priced
            // after it.
            assert!(
                (a.status == 409
                    && (a.text.contains("in progress") || a.text.contains("price it again")))
                    || (a.status == 422 && a.text.contains("more than the 4000 due")),
                "round {round}: {}",
                a.text
            );
        }
        invoices.push(invoice);
    }
    let mut succeeded: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for pi in all_intents(&shop) {
        if pi["status"] == "succeeded"
            && let Some(id) = pi["metadata"]["paydesk_invoice_ids"]
                .as_str()
                .and_then(|s| s.parse::<i64>().ok())
        {
            succeeded
                .entry(id)
                .or_default()
                .push(pi["amount"].as_i64().unwrap());
        }
    }
    for invoice in &invoices {
        assert_eq!(
            succeeded.get(invoice),
            Some(&vec![6_174]),
            "invoice {invoice}: one part of 60% and its fee, at Stripe"
        );
        let view = shop.invoice_view(*invoice);
        assert_eq!(view["status"], "awaiting_payment", "{view}");
        assert_eq!(view["amount_due"], 4_000, "{view}");
        assert_eq!(fee_lines(&view), vec![174], "{view}");
    }
    drop(hosts);
}

#[test]
fn two_agents_refunding_most_of_one_payment_at_once_refund_it_once() {
    let shop = shop("race-refunds", "usd", |_| {});
    let agents: Vec<ApiClient> = (0..2)
        .map(|_| {
            shop.admin
                .with_token(&shop.host.refund_agent_token(&shop.tenant))
        })
        .collect();
    let hosts = hosts(&shop);
    for round in 0..ROUNDS / 2 {
        let invoice = shop.invoice("usd", 10_000);
        let paid = shop.user.post(
            &shop.path("/payments"),
            json!({"invoice_ids": [invoice], "pay_with": "saved_method"}),
        );
        assert_eq!(paid.status, 201, "{}", paid.text);
        let intent = paid.body["intent_id"].as_str().unwrap().to_string();
        let payment = paid.body["payments"][0]["id"].as_i64().unwrap();
        let path = shop.path(&format!("/invoices/{invoice}/payments/{payment}/refunds"));
        // Each asks for 60% of what was paid: both together would be more than it paid.
        let answers: Vec<Answer> = {
            let gate = Barrier::new(2);
            std::thread::scope(|scope| {
                let handles: Vec<_> = agents
                    .iter()
                    .enumerate()
                    .map(|(k, agent)| {
                        let (gate, client, path) = (&gate, hosts.on(k + 1, agent), path.clone());
                        scope.spawn(move || {
                            gate.wait();
                            client.post(&path, json!({"amount": 6_174}))
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            })
        };
        let won = answers.iter().filter(|a| a.status == 201).count();
        assert_eq!(
            won,
            1,
            "round {round}: {:?}",
            answers.iter().map(|a| &a.text).collect::<Vec<_>>()
        );
        for a in answers.iter().filter(|a| a.status != 201) {
            // Refused by the claim's rule in the database, or priced after the other's claim.
            assert!(
                (a.status == 409 && a.text.contains("can still be refunded"))
                    || (a.status == 422 && a.text.contains("can still be refunded")),
                "round {round}: {}",
                a.text
            );
        }
        // From localstripe's side: one refund of 60%, never two.
        let list = stripe_request(
            &shop.stripe,
            "GET",
            &format!("/v1/refunds?payment_intent={intent}"),
            &[],
        );
        let amounts: Vec<i64> = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["amount"].as_i64().unwrap())
            .collect();
        assert_eq!(amounts, vec![6_174], "round {round}: one refund at Stripe");
        let view = shop.invoice_view(invoice);
        assert_eq!(view["amount_due"], 6_174, "{view}");
    }
    drop(hosts);
}

/// A bank debit (issue 17 item 4) is `processing` for days: nothing may charge its invoice again.
/// Against the Stripe stand-in (`bank_debits::bank`: a SEPA Debit saved with its mandate), round
/// after round on a fresh recurring invoice, the daily run, a portal user paying with the saved
/// debit and an agent charging it race on three hosts: exactly one of them makes a PaymentIntent
/// (it stays `processing`) and the others are refused or stand back; then the three race again
/// while that debit is processing, and all are refused or stand back. Each invoice has exactly one
/// PaymentIntent at the stand-in, and stays awaiting payment.
#[test]
fn a_processing_bank_debit_with_a_portal_payment_an_agents_charge_and_the_daily_run_charges_once() {
    let bank = crate::bank_debits::bank("race-debit");
    bank.save_debit();
    let peers: Vec<TestHost> = (0..2).map(|_| bank.host.peer()).collect();
    let bases: Vec<String> = std::iter::once(bank.admin.base.clone())
        .chain(peers.iter().map(|p| p.serve().base))
        .collect();
    let on = |k: usize, client: &ApiClient| ApiClient {
        base: bases[k % bases.len()].clone(),
        token: client.token.clone(),
    };
    let path = bank.path("/payments");
    let mut won_by: BTreeMap<&str, usize> = BTreeMap::new();
    let rounds = ROUNDS / 5;
    let mut invoices = Vec::new();
    for round in 0..rounds {
        let invoice = bank.due_invoice(&format!("DR-{round:03}"), 3_000 + round as i64);
        invoices.push(invoice);
        for phase in ["fresh", "processing"] {
            let app = &peers[round % 2].app;
            let tenant = &bank.tenant;
            let charges = bank.path(&format!("/invoices/{invoice}/charges"));
            let answers = race(vec![
                Box::new(move || {
                    let r = app
                        .autopay_charge(tenant, invoice, "2026-12-01")
                        .expect("the run's charge answers");
                    match r.status {
                        Some(status) => Told::RunCharged(status),
                        None => Told::RunStoodBack(r.message),
                    }
                }),
                pay(on(round, &bank.user), &path, vec![invoice]),
                charge(on(round + 1, &bank.admin), charges, None),
            ]);
            let winners: Vec<&Told> = answers
                .iter()
                .filter(|t| matches!(t, Told::Paid { .. } | Told::RunCharged(_)))
                .collect();
            match (phase, &winners[..]) {
                ("fresh", [Told::RunCharged(PaymentStatus::Processing)]) => {
                    *won_by.entry("the daily run").or_default() += 1
                }
                ("fresh", [Told::Paid { status, .. }]) if status == "processing" => {
                    *won_by.entry("a payer").or_default() += 1
                }
                ("processing", []) => {}
                _ => panic!("round {round}, {phase}: {answers:?}"),
            }
            for t in &answers {
                if let Told::Refused(m) | Told::RunStoodBack(m) = t {
                    assert!(
                        m.contains("in progress") || m.contains("pending"),
                        "round {round}, {phase}: {m}"
                    );
                }
            }
        }
    }
    println!("{rounds} rounds, every debit made once; first made by {won_by:?}");
    let mut made: BTreeMap<i64, usize> = BTreeMap::new();
    for pi in bank.intents() {
        let ids = pi["metadata"]["paydesk_invoice_ids"].as_str().unwrap_or("");
        for id in ids.split(',').filter_map(|s| s.parse::<i64>().ok()) {
            *made.entry(id).or_default() += 1;
        }
    }
    for invoice in invoices {
        assert_eq!(made.get(&invoice), Some(&1), "invoice {invoice}: {made:?}");
        let view = bank.invoice(invoice);
        assert_eq!(view["status"], "awaiting_payment", "{view}");
        let open: Vec<&Value> = view["payments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["status"] == "processing")
            .collect();
        assert_eq!(open.len(), 1, "{view}");
    }
}
