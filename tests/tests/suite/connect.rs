//! Connecting a tenant to Stripe through the JSON API: settings with field
//! errors and write-only keys, customer mappings and "Generate mappings", sync on save, payment
//! methods and the automatic payment method — against localstripe, every request the plugin sends
//! checked against Stripe's OpenAPI description.

use serde_json::{Value, json};

use paydesk_tests::host::{ApiClient, TestHost};
use paydesk_tests::logs;
use paydesk_tests::recorder::StripeRecorder;
use paydesk_tests::services::LocalStripe;

use crate::stripe_calls::assert_valid_for_stripe;

/// A POST straight to localstripe (test setup, not the plugin), returning the object.
fn stripe_post(stripe: &LocalStripe, path: &str, form: &[(&str, &str)]) -> Value {
    let body = serde_urlencoded::to_string(form).unwrap();
    let text = ureq::post(&format!("{}{path}", stripe.base_url))
        .header("Authorization", "Bearer sk_test_setup")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(body)
        .expect("localstripe answers")
        .body_mut()
        .read_to_string()
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn stripe_get(stripe: &LocalStripe, path: &str) -> Value {
    let text = ureq::get(&format!("{}{path}", stripe.base_url))
        .header("Authorization", "Bearer sk_test_setup")
        .call()
        .expect("localstripe answers")
        .body_mut()
        .read_to_string()
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

struct Setup {
    host: TestHost,
    api: ApiClient,
    recorder: StripeRecorder,
    tenant: String,
}

fn setup(
    stripe: &LocalStripe,
    tenant: &str,
    edit: impl FnOnce(&mut paydesk_host::settings::TenantSettings),
) -> Setup {
    let recorder = StripeRecorder::start(&stripe.base_url).expect("recorder");
    let host = TestHost::new(&recorder.base_url);
    let id = host.tenant(tenant, "sk_test_connect_0000", edit);
    let api = host.serve().with_token(&host.admin_token(&id));
    Setup {
        host,
        api,
        recorder,
        tenant: tenant.to_string(),
    }
}

impl Setup {
    fn path(&self, rest: &str) -> String {
        format!("/api/v1/tenants/{}{rest}", self.tenant)
    }
}

fn field_names(answer: &Value) -> Vec<String> {
    answer["error"]["fields"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_bad_key_is_named_and_nothing_is_stored() {
    let s = setup(LocalStripe::shared(), "badkey", |_| {});
    let before = s.api.get(&s.path("/settings"));
    assert_eq!(before.status, 200, "{}", before.text);

    // A publishable key in the secret field, with other bad fields: every one named, nothing saved.
    let answer = s.api.patch(
        &s.path("/settings"),
        json!({
            "stripe_secret_key": "pk_test_not_a_secret",
            "stripe_currency": "xyz",
            "stripe_processing_fee_percentage": "150",
            "stripepaymentmethodoptions": ["card", "sepa_debit"],
            "stripemanualpaymentmethodoptions": ["us_bank_account"],
        }),
    );
    assert_eq!(answer.status, 422, "{}", answer.text);
    let fields = field_names(&answer.body);
    for f in [
        "stripe_secret_key",
        "stripe_currency",
        "stripe_processing_fee_percentage",
        "stripemanualpaymentmethodoptions",
    ] {
        assert!(
            fields.contains(&f.to_string()),
            "{f} not named in {}",
            answer.text
        );
    }
    let after = s.api.get(&s.path("/settings"));
    assert_eq!(before.body, after.body, "a rejected save changes nothing");

    // A live secret key with a test publishable key: the modes must match.
    let answer = s.api.patch(
        &s.path("/settings"),
        json!({"stripe_secret_key": "sk_live_0123456789"}),
    );
    assert_eq!(answer.status, 422, "{}", answer.text);
    assert_eq!(field_names(&answer.body), vec!["stripe_secret_key"]);
    assert!(answer.text.contains("same mode"), "{}", answer.text);
    // An unknown setting is named too.
    let answer = s
        .api
        .patch(&s.path("/settings"), json!({"stripe_curency": "eur"}));
    assert_eq!(field_names(&answer.body), vec!["stripe_curency"]);
    assert_eq!(s.api.get(&s.path("/settings")).body, before.body);
}

#[test]
fn a_secret_key_in_the_publishable_key_field_is_refused_before_the_sandbox_sees_it() {
    let s = setup(LocalStripe::shared(), "swapped", |_| {});
    let before = s.api.get(&s.path("/settings"));
    // Registered with the secret sweep: were it passed into the sandbox, logged or answered, the
    // sweep after the suite would find it.
    let pasted = "sk_live_pastedintothewrongfield0001";
    paydesk_tests::sweep::register_secret(pasted);
    let answer = s
        .api
        .patch(&s.path("/settings"), json!({"stripe_public_key": pasted}));
    assert_eq!(answer.status, 422, "{}", answer.text);
    assert_eq!(field_names(&answer.body), vec!["stripe_public_key"]);
    assert!(
        answer.text.contains("this is a secret key"),
        "{}",
        answer.text
    );
    assert!(!answer.text.contains(pasted), "{}", answer.text);
    assert_eq!(s.api.get(&s.path("/settings")).body, before.body);
}

#[test]
fn a_good_key_is_stored_and_never_shown_or_logged() {
    logs::capture();
    let stripe = LocalStripe::shared();
    let s = setup(stripe, "goodkey", |_| {});
    let key = "sk_test_GoodKeyNeverShown7731";
    let answer = s.api.patch(
        &s.path("/settings"),
        json!({"stripe_secret_key": key, "stripe_currency": "eur", "stripe_processing_fee_percentage": "2.5"}),
    );
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.body["stripe_secret_key"], "sk_test_…7731");
    assert_eq!(answer.body["stripe_currency"], "eur");
    // The key was tried against Stripe before it was kept …
    assert!(
        s.recorder
            .requests()
            .iter()
            .any(|r| StripeRecorder::header(r, "Authorization") == Some(&format!("Bearer {key}"))),
        "the new key must be checked with a real call"
    );
    // … and is the one used from now on.
    s.recorder.clear();
    assert_eq!(
        s.api
            .post(&s.path("/settings/test-connection"), json!({}))
            .status,
        200
    );
    assert!(
        s.recorder
            .requests()
            .iter()
            .all(|r| StripeRecorder::header(r, "Authorization") == Some(&format!("Bearer {key}")))
    );

    let shown = s.api.get(&s.path("/settings"));
    for text in [&answer.text, &shown.text] {
        assert!(
            !text.contains("GoodKeyNeverShown"),
            "a response shows the key: {text}"
        );
    }
    let logged = logs::contents();
    assert!(!logged.is_empty(), "the host logs during the test");
    assert!(
        !logged.contains("GoodKeyNeverShown"),
        "a log line shows the key"
    );
}

#[test]
fn generate_mappings_maps_exact_unique_names_across_pages() {
    let stripe = LocalStripe::start().expect("own localstripe: the test counts customers");
    let s = setup(&stripe, "mapgen", |_| {});
    // 230 Stripe customers (three pages of 100): 225 fillers plus the interesting ones.
    for n in 0..225 {
        stripe_post(
            &stripe,
            "/v1/customers",
            &[("name", &format!("Filler {n:03}"))],
        );
    }
    let mut stripe_ids = std::collections::HashMap::new();
    for name in ["Acme Corp", "Globex", "Initech", "Umbrella", "Hooli"] {
        let c = stripe_post(&stripe, "/v1/customers", &[("name", name)]);
        stripe_ids.insert(name, c["id"].as_str().unwrap().to_string());
    }
    // "Hooli" twice in Stripe; "initech" differs from "Initech" only in case.
    stripe_post(&stripe, "/v1/customers", &[("name", "Hooli")]);
    for name in [
        "Acme Corp",
        "Globex",
        "Umbrella",
        "initech",
        "Hooli",
        "Nobody In Stripe",
    ] {
        let a = s.api.post(&s.path("/customers"), json!({"name": name}));
        assert_eq!(a.status, 201, "{}", a.text);
    }

    let report = s.api.post(&s.path("/mappings/generate"), json!({}));
    assert_eq!(report.status, 200, "{}", report.text);
    assert_eq!(report.body["stripe_customers_seen"], 231);
    let mapped: Vec<(String, String)> = report.body["mapped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["customer_name"].as_str().unwrap().into(),
                m["stripe_customer_id"].as_str().unwrap().into(),
            )
        })
        .collect();
    let mut expected: Vec<(String, String)> = ["Acme Corp", "Globex", "Umbrella"]
        .iter()
        .map(|n| (n.to_string(), stripe_ids[n].clone()))
        .collect();
    expected.sort();
    let mut got = mapped.clone();
    got.sort();
    assert_eq!(got, expected);
    let reason = |name: &str| {
        report.body["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["customer_name"] == name)
            .map(|s| s["reason"].as_str().unwrap().to_string())
    };
    assert_eq!(
        reason("initech").as_deref(),
        Some("no_match"),
        "a case-only difference is not an exact match"
    );
    assert_eq!(reason("Hooli").as_deref(), Some("several_in_stripe"));
    assert_eq!(reason("Nobody In Stripe").as_deref(), Some("no_match"));

    let table = s.api.get(&s.path("/mappings"));
    assert_eq!(table.body.as_array().unwrap().len(), 3);
    let again = s.api.post(&s.path("/mappings/generate"), json!({}));
    assert_eq!(
        again.body["mapped"].as_array().unwrap().len(),
        0,
        "a second run maps nothing"
    );
    assert_eq!(again.body["already_mapped"], 3);
    assert_valid_for_stripe(&s.recorder.requests());
}

#[test]
fn mappings_are_one_to_one_and_must_exist_in_stripe() {
    let stripe = LocalStripe::shared();
    let s = setup(stripe, "mapadd", |_| {});
    let cus = stripe_post(stripe, "/v1/customers", &[("name", "Massive Dynamic")]);
    let cus_id = cus["id"].as_str().unwrap();
    let a = s
        .api
        .post(&s.path("/customers"), json!({"name": "Massive Dynamic"}));
    let b = s.api.post(
        &s.path("/customers"),
        json!({"name": "Massive Dynamic (old)"}),
    );
    let (a_id, b_id) = (
        a.body["customer"]["id"].as_i64().unwrap(),
        b.body["customer"]["id"].as_i64().unwrap(),
    );

    let missing = s.api.post(
        &s.path("/mappings"),
        json!({"customer_id": a_id, "stripe_customer_id": "cus_doesnotexist"}),
    );
    assert_eq!(missing.status, 404, "{}", missing.text);
    assert!(
        missing.text.contains("cus_doesnotexist"),
        "{}",
        missing.text
    );

    let ok = s.api.post(
        &s.path("/mappings"),
        json!({"customer_id": a_id, "stripe_customer_id": cus_id}),
    );
    assert_eq!(ok.status, 201, "{}", ok.text);
    let taken = s.api.post(
        &s.path("/mappings"),
        json!({"customer_id": b_id, "stripe_customer_id": cus_id}),
    );
    assert_eq!(
        taken.status, 409,
        "one Stripe customer maps to one helpdesk customer: {}",
        taken.text
    );
    let other = stripe_post(stripe, "/v1/customers", &[("name", "Other")]);
    let twice = s.api.post(
        &s.path("/mappings"),
        json!({"customer_id": a_id, "stripe_customer_id": other["id"]}),
    );
    assert_eq!(
        twice.status, 409,
        "one helpdesk customer maps to one Stripe customer: {}",
        twice.text
    );

    assert_eq!(
        s.api.delete(&s.path(&format!("/mappings/{a_id}"))).status,
        204
    );
    assert_eq!(s.api.get(&s.path("/mappings")).body, json!([]));
    assert_valid_for_stripe(&s.recorder.requests());
}

#[test]
fn with_sync_on_creating_and_renaming_a_customer_shows_in_stripe() {
    let stripe = LocalStripe::shared();
    let s = setup(stripe, "syncon", |st| st.sync_customers_to_stripe = true);
    let created = s.api.post(
        &s.path("/customers"),
        json!({"name": "Soylent Corp", "accounts_email": "ap@soylent.test"}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["sync_error"], Value::Null);
    let id = created.body["customer"]["id"].as_i64().unwrap();
    let stripe_id = created.body["customer"]["stripe_customer_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        stripe_get(stripe, &format!("/v1/customers/{stripe_id}"))["name"],
        "Soylent Corp"
    );

    let renamed = s.api.put(
        &s.path(&format!("/customers/{id}")),
        json!({"name": "Soylent Industries", "accounts_email": "billing@soylent.test"}),
    );
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    let in_stripe = stripe_get(stripe, &format!("/v1/customers/{stripe_id}"));
    assert_eq!(in_stripe["name"], "Soylent Industries");
    assert_eq!(in_stripe["email"], "billing@soylent.test");
    assert_eq!(in_stripe["metadata"]["helpdesk_id"], id.to_string());
    assert_valid_for_stripe(&s.recorder.requests());
}

#[test]
fn only_imported_methods_are_listed_and_can_become_automatic() {
    let stripe = LocalStripe::shared();
    let s = setup(stripe, "methods", |st| {
        st.stripepaymentmethodoptions = vec!["card".into()]
    });
    let cus = stripe_post(stripe, "/v1/customers", &[("name", "Wayne Enterprises")]);
    let cus_id = cus["id"].as_str().unwrap();
    let card = stripe_post(
        stripe,
        "/v1/payment_methods",
        &[
            ("type", "card"),
            ("card[number]", "4242424242424242"),
            ("card[exp_month]", "12"),
            ("card[exp_year]", "2030"),
            ("card[cvc]", "123"),
        ],
    );
    let sepa = stripe_post(
        stripe,
        "/v1/payment_methods",
        &[
            ("type", "sepa_debit"),
            ("sepa_debit[iban]", "DE89370400440532013000"),
        ],
    );
    let (card_id, sepa_id) = (card["id"].as_str().unwrap(), sepa["id"].as_str().unwrap());
    for pm in [card_id, sepa_id] {
        stripe_post(
            stripe,
            &format!("/v1/payment_methods/{pm}/attach"),
            &[("customer", cus_id)],
        );
    }
    let customer = s
        .api
        .post(&s.path("/customers"), json!({"name": "Wayne Enterprises"}));
    let id = customer.body["customer"]["id"].as_i64().unwrap();
    assert_eq!(
        s.api
            .post(
                &s.path("/mappings"),
                json!({"customer_id": id, "stripe_customer_id": cus_id})
            )
            .status,
        201
    );

    let listed = s
        .api
        .get(&s.path(&format!("/customers/{id}/payment-methods")));
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(
        listed.body,
        json!([{"id": card_id, "type": "card", "display_name": "Visa ending 4242, expires 12/2030", "is_automatic": false}])
    );

    let refused = s.api.put(
        &s.path(&format!("/customers/{id}/automatic-payment-method")),
        json!({"payment_method_id": sepa_id}),
    );
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(
        refused.text.contains("SEPA Debit")
            && refused
                .text
                .contains("not among the payment method types imported"),
        "{}",
        refused.text
    );
    assert_eq!(
        s.host
            .db()
            .customer(
                &paydesk_host::tenant::TenantId::parse("methods").unwrap(),
                id
            )
            .unwrap()
            .stripe_payment_method_id,
        None
    );

    let set = s.api.put(
        &s.path(&format!("/customers/{id}/automatic-payment-method")),
        json!({"payment_method_id": card_id}),
    );
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(set.body["stripe_payment_method_id"], card_id);
    assert_eq!(
        set.body["stripe_payment_method_name"],
        "Visa ending 4242, expires 12/2030"
    );
    assert_eq!(
        stripe_get(stripe, &format!("/v1/customers/{cus_id}"))["invoice_settings"]["default_payment_method"],
        card_id
    );
    let relisted = s
        .api
        .get(&s.path(&format!("/customers/{id}/payment-methods")));
    assert_eq!(relisted.body[0]["is_automatic"], true);

    let cleared = s.api.put(
        &s.path(&format!("/customers/{id}/automatic-payment-method")),
        json!({"payment_method_id": null}),
    );
    assert_eq!(cleared.status, 200, "{}", cleared.text);
    assert_eq!(cleared.body["stripe_payment_method_id"], Value::Null);
    assert_valid_for_stripe(&s.recorder.requests());
}

#[test]
fn the_api_is_described_and_refuses_callers_without_a_valid_token() {
    let stripe = LocalStripe::shared();
    let s = setup(stripe, "apiauth", |_| {});
    let doc = s.api.get("/api/openapi.json");
    assert_eq!(doc.status, 200);
    for path in [
        "/api/v1/tenants/{tenant}/settings",
        "/api/v1/tenants/{tenant}/mappings/generate",
    ] {
        assert!(
            doc.body["paths"].get(path).is_some(),
            "{path} is not documented"
        );
    }
    let anonymous = ApiClient {
        base: s.api.base.clone(),
        token: None,
    };
    assert_eq!(anonymous.get(&s.path("/settings")).status, 401);
    assert_eq!(
        s.api
            .with_token("pdk_forged")
            .get(&s.path("/settings"))
            .status,
        401
    );
    // A valid token of another tenant: that tenant's URL is simply not found.
    let other = s.host.tenant("apiauth-other", "sk_test_other", |_| {});
    let other_token = s.host.admin_token(&other);
    let answer = s.api.with_token(&other_token).get(&s.path("/settings"));
    assert_eq!(answer.status, 404);
    assert!(!answer.text.contains("sk_test"), "{}", answer.text);
    // An agent who is not an administrator can't read or change settings.
    let plain = s.host.agent_token(
        &paydesk_host::tenant::TenantId::parse("apiauth").unwrap(),
        false,
        false,
    );
    assert_eq!(
        s.api.with_token(&plain).get(&s.path("/settings")).status,
        403
    );
}
