//! What the process tests (`paydesk autopay` and `paydesk serve` as child processes) share:
//! calls to localstripe with a test key, a helpdesk customer mapped to a Stripe customer with a
//! saved card as its automatic payment method, and every PaymentIntent localstripe holds.

use paydesk_host::contract::Customer;
use paydesk_host::db::NewCustomer;
use paydesk_host::db::stores::*;
use paydesk_host::tenant::TenantId;
use serde_json::Value;

/// One Stripe API call to localstripe at `base` with secret key `key`; the answer as JSON.
pub fn stripe(base: &str, key: &str, method: &str, path: &str, form: &[(&str, &str)]) -> Value {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let url = format!("{base}{path}");
    let mut r = match method {
        "GET" => agent
            .get(&url)
            .header("Authorization", format!("Bearer {key}"))
            .call(),
        _ => agent
            .post(&url)
            .header("Authorization", format!("Bearer {key}"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(serde_urlencoded::to_string(form).unwrap()),
    }
    .expect("localstripe answers");
    serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap()
}

/// "Acme Customer" in `tenant`, mapped to a new Stripe customer with a Visa card attached and set
/// as its automatic payment method.
pub fn customer_with_card(
    db: &impl HelpdeskStore,
    tenant: &TenantId,
    base: &str,
    key: &str,
) -> Customer {
    let cus = stripe(
        base,
        key,
        "POST",
        "/v1/customers",
        &[("name", "Acme Customer")],
    );
    let pm = stripe(
        base,
        key,
        "POST",
        "/v1/payment_methods",
        &[
            ("type", "card"),
            ("card[number]", "4242424242424242"),
            ("card[exp_month]", "12"),
            ("card[exp_year]", "2030"),
            ("card[cvc]", "123"),
        ],
    );
    let (cus_id, pm_id) = (cus["id"].as_str().unwrap(), pm["id"].as_str().unwrap());
    stripe(
        base,
        key,
        "POST",
        &format!("/v1/payment_methods/{pm_id}/attach"),
        &[("customer", cus_id)],
    );
    let customer = db
        .create_customer(
            tenant,
            &NewCustomer {
                name: "Acme Customer".into(),
                ..Default::default()
            },
        )
        .unwrap();
    db.set_stripe_customer_id(tenant, customer.id, Some(cus_id))
        .unwrap();
    db.set_automatic_payment_method(tenant, customer.id, Some((pm_id, "Visa ending 4242")))
        .unwrap();
    customer
}

/// Every PaymentIntent localstripe holds, page by page.
pub fn all_intents(base: &str, key: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/v1/payment_intents?limit=100&starting_after={a}"),
            None => "/v1/payment_intents?limit=100".to_string(),
        };
        let page = stripe(base, key, "GET", &path, &[]);
        let data = page["data"].as_array().unwrap().clone();
        after = data.last().map(|pi| pi["id"].as_str().unwrap().to_string());
        all.extend(data);
        if page["has_more"] != true {
            return all;
        }
    }
}
