//! Stripe calls made by the component reach localstripe through the host, and every request passes
//! Stripe's own OpenAPI description: creating a customer for a helpdesk customer.

use paydesk_host::contract::exports::paydesk::stripe::events::SyncOutcome;
use paydesk_host::db::NewCustomer;
use paydesk_tests::host::TestHost;
use paydesk_tests::recorder::{RecordedRequest, StripeRecorder};
use paydesk_tests::services::LocalStripe;
use paydesk_tests::stripe_spec::StripeSpec;

/// Assert that every request the plugin sent is valid for Stripe's API 2023-08-16.
pub fn assert_valid_for_stripe(requests: &[RecordedRequest]) {
    assert!(!requests.is_empty(), "nothing was sent to Stripe");
    for r in requests {
        if let Err(violations) =
            StripeSpec::shared().validate(&r.method, &r.path_and_query, &r.body)
        {
            let list: Vec<String> = violations.iter().map(ToString::to_string).collect();
            panic!(
                "{} {} is not valid for Stripe: {}",
                r.method,
                r.path_and_query,
                list.join("; ")
            );
        }
        assert_eq!(
            StripeRecorder::header(r, "Stripe-Version"),
            Some("2023-08-16"),
            "{} {} must pin the API version",
            r.method,
            r.path_and_query
        );
    }
}

#[test]
fn a_synced_customer_is_created_in_stripe_with_a_spec_valid_request() {
    let stripe = LocalStripe::shared();
    let recorder = StripeRecorder::start(&stripe.base_url).expect("recorder");
    let host = TestHost::new(&recorder.base_url);
    let tenant = host.tenant("sync", "sk_test_sync_0001", |s| {
        s.sync_customers_to_stripe = true
    });
    let customer = host
        .db()
        .create_customer(
            &tenant,
            &NewCustomer {
                name: "Globex Corporation".into(),
                accounts_email: Some("ap@globex.test".into()),
                accounts_cc_email: None,
            },
        )
        .unwrap();

    let outcome = host.app.customer_saved(&tenant, customer.id).expect("sync");
    let SyncOutcome::Created(stripe_id) = outcome else {
        panic!("expected a created Stripe customer, got {outcome:?}");
    };

    // The mapping is stored on the helpdesk customer …
    let saved = host.db().customer(&tenant, customer.id).unwrap();
    assert_eq!(
        saved.stripe_customer_id.as_deref(),
        Some(stripe_id.as_str())
    );
    assert_eq!(saved.stripe_sync_error, None);
    // … and localstripe holds the customer with the helpdesk's data.
    let text = ureq::get(&format!("{}/v1/customers/{stripe_id}", stripe.base_url))
        .header("Authorization", "Bearer sk_test_sync_0001")
        .call()
        .expect("read back")
        .body_mut()
        .read_to_string()
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["name"], "Globex Corporation");
    assert_eq!(body["email"], "ap@globex.test");
    assert_eq!(body["metadata"]["helpdesk_id"], customer.id.to_string());

    let sent = recorder.requests();
    assert_valid_for_stripe(&sent);
    assert!(sent.iter().all(|r| StripeRecorder::header(r, "Authorization") == Some("Bearer sk_test_sync_0001")));
    assert!(
        sent.iter()
            .any(|r| r.method == "POST" && StripeRecorder::header(r, "Idempotency-Key").is_some()),
        "creating a customer carries an idempotency key"
    );
}

#[test]
fn an_unreachable_stripe_leaves_the_customer_saved_with_the_sync_error_shown() {
    let host = TestHost::new("http://127.0.0.1:9");
    let tenant = host.tenant("offline", "sk_test_offline", |s| {
        s.sync_customers_to_stripe = true
    });
    let customer = host
        .db()
        .create_customer(
            &tenant,
            &NewCustomer {
                name: "Initech".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let err = host
        .app
        .customer_saved(&tenant, customer.id)
        .expect_err("Stripe is down");
    assert!(err.to_string().contains("could not be reached"), "{err}");
    let saved = host.db().customer(&tenant, customer.id).unwrap();
    assert_eq!(saved.name, "Initech");
    assert!(
        saved
            .stripe_sync_error
            .is_some_and(|e| e.contains("could not be reached"))
    );
}
