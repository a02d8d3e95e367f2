//! Authorization matrix: every route of the JSON
//! API and every page, called against a victim tenant's data by five callers who must not see or
//! touch it — an anonymous caller, another tenant's admin, a portal user of another customer of the
//! same tenant, a portal user of the victim's own customer whose invoice access level is `none`, and
//! an agent who is neither admin nor has "Can Receive Manual Stripe Payments". The API routes are
//! read from the server's own OpenAPI document (itself checked against the router's `.route(`
//! calls), so a route added later joins the matrix by itself; the page routes are listed here by
//! hand and checked against the `.route(` calls of `host/src/web/pages/mod.rs`. A refusal is
//! 401/403/404 (a page may also send the caller to /login, or back with its own "not done"
//! message) and carries none of the victim's canary strings, read first as the victim's admin: its
//! customer's name, Stripe customer id and accounts email, its invoice numbers, its PaymentIntent
//! id, its masked secret key, any `whsec_`, its portal user's email. The raw secrets appear in no
//! answer at all, and every error answer of the API is the documented `{"error": {…}}` shape.
//! Positive controls show the victim's own admin (and portal user) get those routes and see those
//! canaries; afterwards nothing the victim's admin can read has changed, and Stripe got no write
//! with the victim's key from any of the callers.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use paydesk_host::db::access_level_name;
use paydesk_host::tenant::TenantId;
use paydesk_tests::host::ApiClient;
use paydesk_tests::recorder::StripeRecorder;

use crate::payments::{Shop, shop};

const PASSWORD: &str = "authorization matrix password";
/// The victim's admin, signed in for the pages' positive controls.
const ADA: &str = "ada@victim.test";
/// The victim's agent without the payment permission and not admin.
const CLERK: &str = "clerk@victim.test";
/// The other tenant's admin.
const BOSS: &str = "boss@other-tenant.test";
/// A portal user of another customer of the victim's tenant.
const BYSTANDER: &str = "bea@bystander.test";
/// A portal user of the victim's own customer, invoice access level `none`.
const NO_ACCESS: &str = "nico@no-access.test";
/// Where every tenant route of the API lives.
const API: &str = "/api/v1/tenants/{tenant}";
/// The secret key `shop()` connects with; the victim's admin replaces it with [`VICTIM_KEY`].
const SHOP_KEY: &str = "sk_test_shop";
/// The victim's secret key: long enough that its masked form (`sk_test_…7391`) is its own — the
/// other tenant's short key masks to `sk_test_…`, and the OpenAPI document shows `sk_test_…4242`.
const VICTIM_KEY: &str = "sk_test_authzVictimKey7391";

/// Who calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    Anonymous,
    OtherTenantAdmin,
    OtherCustomersUser,
    NoAccessUser,
    AgentWithoutPermission,
}

/// The callers, in the order of the page table's columns.
const CALLERS: [Caller; 5] = [
    Caller::Anonymous,
    Caller::OtherTenantAdmin,
    Caller::OtherCustomersUser,
    Caller::NoAccessUser,
    Caller::AgentWithoutPermission,
];

impl Caller {
    fn describe(self) -> &'static str {
        match self {
            Caller::Anonymous => "anonymous caller",
            Caller::OtherTenantAdmin => "another tenant's admin",
            Caller::OtherCustomersUser => "portal user of another customer",
            Caller::NoAccessUser => "portal user with invoice access `none`",
            Caller::AgentWithoutPermission => "agent without payment permission (not admin)",
        }
    }
}

/// What one cell of the matrix must show.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// One of these statuses (a page may instead redirect to /login), and nothing of the victim's.
    Refused(&'static [u16]),
    /// A 303 back to a page whose message starts with this — the page's own way of saying no —
    /// and nothing of the victim's.
    Bounced(&'static str),
    /// The caller's own view (its own data, or a refusal): below 500, nothing of the victim's.
    Own,
    /// The caller may (2xx).
    Allowed,
    /// Not sent: the caller may, and doing it would change the victim's data.
    Skip,
}

const R: Expect = Expect::Refused(&[401, 403, 404]);
const O: Expect = Expect::Own;
const A: Expect = Expect::Allowed;
const S: Expect = Expect::Skip;
const NOT_CHARGED: Expect = Expect::Bounced("Not charged");
const NOT_CHANGED: Expect = Expect::Bounced("Not changed");
const NOT_PAID: Expect = Expect::Bounced("Not paid");
const NOT_MAPPED: Expect = Expect::Bounced("Mapping not added");
const NOT_REFUNDED: Expect = Expect::Bounced("Not refunded");
const NOT_RETRIED: Expect = Expect::Bounced("Not asked again");

/// A page request's body; `{placeholders}` are filled with the victim's ids.
#[derive(Clone, Copy, Debug)]
enum Body {
    None,
    /// Form fields; the session's CSRF token is added.
    Form(&'static [(&'static str, &'static str)]),
    Json(&'static str),
}

/// One page route and method, and what each of [`CALLERS`] must get.
struct PageCase {
    method: &'static str,
    path: &'static str,
    body: Body,
    expect: [Expect; 5],
}

const fn page(
    method: &'static str,
    path: &'static str,
    body: Body,
    expect: [Expect; 5],
) -> PageCase {
    PageCase {
        method,
        path,
        body,
        expect,
    }
}

const CONFIRM: &str = r#"{"intent_id": "{intent}", "payment_method": "pm_card_visa"}"#;

/// Every page route of `host/src/web/pages/mod.rs`, by hand. Columns: anonymous, another tenant's
/// admin, another customer's portal user, the `none` portal user, the agent without permission.
/// Placeholders: `{customer}` the victim customer, `{invoice}` its invoice with a payment,
/// `{open}` its unpaid invoice, `{intent}` that payment's PaymentIntent (`{payment}` its record), `{clerk}` the agent
/// without permission, `{no_access}` the `none` portal user, `{token}` an API token of the victim's.
const PAGES: &[PageCase] = &[
    page("GET", "/", Body::None, [O, O, O, O, O]),
    page("GET", "/static/paydesk.js", Body::None, [O, O, O, O, O]),
    page("GET", "/static/paydesk.css", Body::None, [O, O, O, O, O]),
    page("GET", "/login", Body::None, [O, O, O, O, O]),
    page(
        "POST",
        "/login",
        Body::Form(&[
            ("tenant", "{tenant}"),
            ("email", "nobody@intruder.test"),
            ("password", "guess"),
            ("role", "agent"),
        ]),
        [O, O, O, O, O],
    ),
    page("POST", "/logout", Body::Form(&[]), [O, O, O, O, O]),
    page("POST", "/refresh/{intent}", Body::None, [R, R, R, R, A]),
    page("GET", "/app", Body::None, [R, O, R, R, A]),
    page("GET", "/app/setup", Body::None, [R, O, R, R, R]),
    page(
        "POST",
        "/app/setup",
        Body::Form(&[
            ("enabled", "on"),
            ("stripe_currency", "usd"),
            ("stripe_processing_fee_percentage", "9.9"),
            ("autopay_max_attempts", "3"),
            ("autopay_retry_interval_days", "3"),
        ]),
        [R, O, R, R, R],
    ),
    page(
        "POST",
        "/app/setup/test-connection",
        Body::Form(&[]),
        [R, O, R, R, R],
    ),
    page(
        "POST",
        "/app/setup/mappings",
        Body::Form(&[
            ("customer_id", "{customer}"),
            ("stripe_customer_id", "cus_intruder"),
        ]),
        [R, NOT_MAPPED, R, R, R],
    ),
    page(
        "POST",
        "/app/setup/mappings/{customer}/remove",
        Body::Form(&[]),
        [R, R, R, R, R],
    ),
    page(
        "POST",
        "/app/setup/mappings/generate",
        Body::Form(&[]),
        [R, O, R, R, R],
    ),
    page(
        "POST",
        "/app/setup/autopay",
        Body::Form(&[("mode", "run")]),
        [R, O, R, R, R],
    ),
    page(
        "GET",
        "/app/customers/{customer}",
        Body::None,
        [R, R, R, R, A],
    ),
    page(
        "POST",
        "/app/customers/{customer}/automatic-method",
        Body::Form(&[("payment_method_id", "pm_intruder")]),
        [R, NOT_CHANGED, R, R, S],
    ),
    page(
        "POST",
        "/app/customers/{customer}/autopay-cap",
        Body::Form(&[("stripe_autopay_max_amount", "1")]),
        [R, NOT_CHANGED, R, R, S],
    ),
    page(
        "GET",
        "/app/invoices/{invoice}",
        Body::None,
        [R, R, R, R, A],
    ),
    page(
        "GET",
        "/app/invoices/{open}/charge",
        Body::None,
        [R, R, R, R, R],
    ),
    page(
        "POST",
        "/app/invoices/{open}/pay-saved",
        Body::Form(&[("agreed_total", "1")]),
        [R, NOT_CHARGED, R, R, NOT_CHARGED],
    ),
    page(
        "POST",
        "/app/invoices/{invoice}/payments/{payment}/refund",
        Body::Form(&[("amount", "1.00")]),
        [R, NOT_REFUNDED, R, R, NOT_REFUNDED],
    ),
    page(
        "POST",
        "/app/invoices/{invoice}/refunds/{refund}/retry",
        Body::Form(&[]),
        [R, NOT_RETRIED, R, R, NOT_RETRIED],
    ),
    page(
        "POST",
        "/app/invoices/{open}/pay-new",
        Body::None,
        [R, R, R, R, R],
    ),
    page(
        "GET",
        "/app/invoices/{invoice}/pdf",
        Body::None,
        [R, R, R, R, A],
    ),
    page(
        "POST",
        "/app/payments/confirm",
        Body::Json(CONFIRM),
        [R, R, R, R, R],
    ),
    page("GET", "/app/people", Body::None, [R, O, R, R, R]),
    page(
        "POST",
        "/app/people/agents/{clerk}",
        Body::Form(&[("can_receive", "on"), ("is_admin", "on")]),
        [R, R, R, R, R],
    ),
    page(
        "POST",
        "/app/people/users/{no_access}",
        Body::Form(&[("level", "customer")]),
        [R, R, R, R, R],
    ),
    page(
        "POST",
        "/app/people/agents/{clerk}/disable",
        Body::Form(&[]),
        [R, R, R, R, R],
    ),
    page(
        "POST",
        "/app/people/agents/{clerk}/enable",
        Body::Form(&[]),
        [R, R, R, R, R],
    ),
    page(
        "POST",
        "/app/people/agents/{clerk}/remove",
        Body::Form(&[]),
        [R, R, R, R, R],
    ),
    page(
        "POST",
        "/app/people/users/{no_access}/disable",
        Body::Form(&[]),
        [R, R, R, R, R],
    ),
    page(
        "POST",
        "/app/people/users/{no_access}/enable",
        Body::Form(&[]),
        [R, R, R, R, R],
    ),
    page(
        "POST",
        "/app/people/users/{no_access}/remove",
        Body::Form(&[]),
        [R, R, R, R, R],
    ),
    page(
        "POST",
        "/app/people/tokens/{token}/revoke",
        Body::Form(&[]),
        [R, R, R, R, R],
    ),
    page("GET", "/portal", Body::None, [R, R, O, R, R]),
    page(
        "GET",
        "/portal/pay?ids={open}",
        Body::None,
        [R, R, NOT_PAID, R, R],
    ),
    page(
        "POST",
        "/portal/pay",
        Body::Form(&[("invoice", "{open}")]),
        [R, R, O, R, R],
    ),
    page(
        "POST",
        "/portal/pay/confirm",
        Body::Form(&[("invoice", "{open}")]),
        [R, R, NOT_PAID, R, R],
    ),
    page(
        "POST",
        "/portal/pay/new?ids={open}",
        Body::None,
        [R, R, R, R, R],
    ),
    page(
        "POST",
        "/portal/payments/confirm",
        Body::Json(CONFIRM),
        [R, R, R, R, R],
    ),
    page(
        "POST",
        "/portal/payments/{intent}/authenticate",
        Body::None,
        [R, R, R, R, R],
    ),
    page("GET", "/portal/payment-method", Body::None, [R, R, O, R, R]),
    page(
        "POST",
        "/portal/payment-method/start",
        Body::None,
        [R, R, O, R, R],
    ),
    page(
        "POST",
        "/portal/payment-method/complete",
        Body::Json(r#"{"setup_intent_id": "seti_intruder"}"#),
        [R, R, O, R, R],
    ),
    page(
        "POST",
        "/portal/payment-method/confirm",
        Body::Json(r#"{"setup_intent_id": "seti_intruder", "payment_method": "pm_intruder"}"#),
        [R, R, O, R, R],
    ),
    page(
        "POST",
        "/portal/stripe-portal",
        Body::Form(&[]),
        [R, R, O, R, R],
    ),
    page(
        "GET",
        "/portal/invoices/{invoice}/pdf",
        Body::None,
        [R, R, R, R, R],
    ),
];

/// The victim's own pages, for the positive controls: (as its admin?, path).
const VICTIM_PAGES: &[(bool, &str)] = &[
    (true, "/app"),
    (true, "/app/setup"),
    (true, "/app/customers/{customer}"),
    (true, "/app/invoices/{invoice}"),
    (true, "/app/invoices/{invoice}/pdf"),
    (true, "/app/people"),
    (false, "/portal"),
    (false, "/portal/invoices/{invoice}/pdf"),
];

/// The canaries the victim's pages show (the webhook secret shows only once "Save and Create
/// Webhooks" ran, and pages never show PaymentIntent ids).
const CANARIES_ON_PAGES: &[&str] = &[
    "customer name",
    "Stripe customer id",
    "accounts email",
    "invoice number",
    "masked secret key",
    "portal user's email",
];

/// The canaries the API's GET routes show the victim's admin (no route lists portal users).
const CANARIES_IN_API: &[&str] = &[
    "customer name",
    "Stripe customer id",
    "accounts email",
    "invoice number",
    "masked secret key",
    "webhook secret prefix",
    "PaymentIntent id",
];

/// Who may call an API route, as the README's table says; a route this does not know is taken to
/// be the admin's, so a new route is held to the strictest rule until it is classified here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    Admin,
    /// Any agent of the tenant.
    Agent,
    /// Agents, and portal users who may see the invoices.
    Viewer,
    /// Agents with "Can Receive Manual Stripe Payments", and portal users who may see the invoices
    /// (the quote makes the same checks as paying).
    Payer,
    /// Agents see every invoice; portal users a list filtered to what they may see.
    OwnList,
    /// Agents with "Can Refund Stripe Payments" only.
    Refunder,
}

fn access(method: &str, template: &str) -> Access {
    let route = template.strip_prefix(API).unwrap_or(template);
    match (method, route) {
        ("GET", "/invoices") => Access::OwnList,
        ("GET", "/invoices/{id}" | "/invoices/{id}/document")
        | ("POST", "/payments/{intent}/refresh") => Access::Viewer,
        ("POST", "/payments" | "/payments/quote")
        | ("POST", "/invoices/{id}/charges" | "/invoices/{id}/charges/quote")
        | ("POST", "/customers/{id}/setup" | "/customers/{id}/setup/confirm") => Access::Payer,
        (
            "POST",
            "/invoices/{id}/payments/{payment}/refunds"
            | "/invoices/{id}/payments/{payment}/refunds/quote"
            | "/invoices/{id}/refunds/{refund}/retry",
        ) => Access::Refunder,
        ("POST", "/invoices")
        | (
            _,
            "/customers"
            | "/customers/{id}"
            | "/customers/{id}/payment-methods"
            | "/customers/{id}/automatic-payment-method"
            | "/customers/{id}/autopay-cap"
            | "/customers/{id}/expiring-card"
            | "/recurring-invoices",
        ) => Access::Agent,
        _ => Access::Admin,
    }
}

/// What `caller` must get from an API route.
fn api_expectation(caller: Caller, method: &str, template: &str) -> Expect {
    match (caller, access(method, template)) {
        (Caller::Anonymous, _) => Expect::Refused(&[401, 404]),
        // Another tenant's existence is not revealed: always "not found".
        (Caller::OtherTenantAdmin, _) => Expect::Refused(&[404]),
        (Caller::OtherCustomersUser, Access::OwnList) => Expect::Own,
        // No invoice access: the invoice list itself is refused, as the portal page is.
        (Caller::NoAccessUser, Access::OwnList) => Expect::Refused(&[403]),
        (Caller::OtherCustomersUser | Caller::NoAccessUser, _) => Expect::Refused(&[403, 404]),
        (Caller::AgentWithoutPermission, Access::Admin | Access::Payer | Access::Refunder) => {
            Expect::Refused(&[403])
        }
        (Caller::AgentWithoutPermission, _) if method == "GET" => Expect::Allowed,
        (Caller::AgentWithoutPermission, _) => Expect::Skip,
    }
}

/// A victim tenant (`shop()`: a customer mapped to Stripe with a card, its portal user), two
/// invoices of its customer — one with a started payment — a bystander customer with its own
/// invoice and portal user, a `none` portal user of the victim's customer, an agent without
/// permission, and another tenant with its own admin, customer and invoice.
struct World {
    shop: Shop,
    name: String,
    other_tenant: TenantId,
    invoice: i64,
    open_invoice: i64,
    intent: String,
    /// The payment record of the started payment.
    payment: i64,
    victim_user: i64,
    no_access_user: i64,
    clerk: i64,
    /// An API token of the victim's (its `none` portal user's).
    victim_token: i64,
    other_admin_token: String,
    bystander_token: String,
    no_access_token: String,
    clerk_token: String,
    /// (what, value) read as the victim's admin; no refused answer may contain one.
    canaries: Vec<(&'static str, String)>,
}

fn created_id(answer: &paydesk_tests::host::Answer, pointer: &str) -> i64 {
    assert_eq!(answer.status, 201, "{}", answer.text);
    answer
        .body
        .pointer(pointer)
        .and_then(Value::as_i64)
        .expect("an id")
}

fn invoice_of(client: &ApiClient, tenant: &TenantId, customer: i64, number: &str) -> i64 {
    created_id(
        &client.post(
            &format!("/api/v1/tenants/{tenant}/invoices"),
            json!({"number": number, "customer_id": customer, "currency": "usd",
                   "issue_date": "2026-11-01", "due_date": "2026-11-30",
                   "lines": [{"description": "Support hours", "amount": 4_200}]}),
        ),
        "/id",
    )
}

/// A portal user with an API token and a password; its id and token.
fn portal_user(shop: &Shop, customer: i64, name: &str, email: &str, level: &str) -> (i64, String) {
    let id = created_id(
        &shop.admin.post(
            &shop.path("/users"),
            json!({"customer_id": customer, "name": name, "email": email, "invoice_access_level": level}),
        ),
        "/id",
    );
    let token = shop
        .admin
        .post(&shop.path(&format!("/users/{id}/tokens")), json!({}));
    assert_eq!(token.status, 201, "{}", token.text);
    shop.host.user_password(&shop.tenant, email, PASSWORD);
    (id, token.body["token"].as_str().unwrap().to_string())
}

fn world(name: &str) -> World {
    let shop = shop(name, "usd", |_| {});
    let tenant = shop.tenant.clone();
    let customer = shop.customer_id;
    let victim_user = shop
        .host
        .db()
        .users(&tenant)
        .unwrap()
        .into_iter()
        .find(|u| u.customer_id == customer)
        .expect("the shop's portal user");
    shop.host
        .user_password(&tenant, &victim_user.email, PASSWORD);

    let invoice = shop.invoice("usd", 5_000);
    let open_invoice = shop.invoice("usd", 7_000);
    let started = shop.admin.post(
        &shop.path("/payments"),
        json!({"invoice_ids": [invoice], "pay_with": {"new_details": ["card"]}}),
    );
    assert_eq!(started.status, 201, "{}", started.text);
    let intent = started.body["intent_id"].as_str().unwrap().to_string();
    let payment = started.body["payments"][0]["id"].as_i64().unwrap();

    let bystander = created_id(
        &shop.admin.post(
            &shop.path("/customers"),
            json!({"name": "Bystander GmbH", "accounts_email": "ap@bystander.test"}),
        ),
        "/customer/id",
    );
    invoice_of(&shop.admin, &tenant, bystander, "BYS-0001");
    let (_, bystander_token) =
        portal_user(&shop, bystander, "Bea Bystander", BYSTANDER, "customer");
    let (no_access_user, no_access_token) =
        portal_user(&shop, customer, "Nico Noaccess", NO_ACCESS, "none");
    shop.host
        .agent_with_password(&tenant, ADA, PASSWORD, true, true);
    shop.host
        .agent_with_password(&tenant, CLERK, PASSWORD, false, false);
    let clerk = shop
        .host
        .db()
        .agents(&tenant)
        .unwrap()
        .into_iter()
        .find(|a| a.email == CLERK)
        .unwrap()
        .id;
    let clerk_token = shop.host.agent_token(&tenant, false, false);

    let other_tenant = shop
        .host
        .tenant(&format!("{name}-other"), "sk_test_other", |_| {});
    shop.host
        .agent_with_password(&other_tenant, BOSS, PASSWORD, true, true);
    let other_admin_token = shop.host.admin_token(&other_tenant);
    let other_admin = shop.admin.with_token(&other_admin_token);
    let other_customer = created_id(
        &other_admin.post(
            &format!("/api/v1/tenants/{other_tenant}/customers"),
            json!({"name": "Other Tenant Co"}),
        ),
        "/customer/id",
    );
    invoice_of(&other_admin, &other_tenant, other_customer, "OTH-0001");

    let rekeyed = shop.admin.patch(
        &shop.path("/settings"),
        json!({"stripe_secret_key": VICTIM_KEY}),
    );
    assert_eq!(rekeyed.status, 200, "{}", rekeyed.text);

    // The canaries, read as the victim's admin.
    let read = |rest: &str| {
        let answer = shop.admin.get(&shop.path(rest));
        assert_eq!(answer.status, 200, "{rest}: {}", answer.text);
        answer.body
    };
    let text = |v: &Value| v.as_str().expect("a string").to_string();
    let c = read(&format!("/customers/{customer}"));
    let settings = read("/settings");
    let invoices = read(&format!("/invoices?customer_id={customer}"));
    let mut canaries = vec![
        ("customer name", text(&c["name"])),
        ("Stripe customer id", text(&c["stripe_customer_id"])),
        ("accounts email", text(&c["accounts_email"])),
        ("masked secret key", text(&settings["stripe_secret_key"])),
        ("webhook secret prefix", "whsec_".to_string()),
        ("portal user's email", victim_user.email.clone()),
        ("PaymentIntent id", intent.clone()),
    ];
    for i in invoices.as_array().unwrap() {
        canaries.push(("invoice number", text(&i["number"])));
    }
    assert_eq!(invoices.as_array().unwrap().len(), 2, "{invoices}");
    assert!(canaries[1].1.starts_with("cus_"), "{c}");
    assert!(
        canaries[3].1.starts_with("sk_test_") && canaries[3].1.ends_with("7391"),
        "{settings}"
    );
    assert!(
        text(&settings["webhook_signing_secret"]).starts_with("whsec_"),
        "{settings}"
    );
    let victim_token = shop
        .host
        .db()
        .tokens(&tenant)
        .unwrap()
        .into_iter()
        .find(|t| t.owner == paydesk_host::db::Person::User(no_access_user))
        .expect("the `none` portal user's token")
        .id;
    shop.recorder.clear();
    World {
        name: name.to_string(),
        victim_token,
        other_tenant,
        invoice,
        open_invoice,
        intent,
        payment,
        victim_user: victim_user.id,
        no_access_user,
        clerk,
        other_admin_token,
        bystander_token,
        no_access_token,
        clerk_token,
        canaries,
        shop,
    }
}

impl World {
    fn tenant(&self) -> &TenantId {
        &self.shop.tenant
    }

    fn base(&self) -> &str {
        &self.shop.admin.base
    }

    /// The raw secrets: never in any answer, to anyone.
    fn secrets(&self) -> [String; 3] {
        [
            SHOP_KEY.to_string(),
            VICTIM_KEY.to_string(),
            format!("whsec_{}_secret", self.name),
        ]
    }

    fn api_client(&self, caller: Caller) -> ApiClient {
        let token = match caller {
            Caller::Anonymous => None,
            Caller::OtherTenantAdmin => Some(&self.other_admin_token),
            Caller::OtherCustomersUser => Some(&self.bystander_token),
            Caller::NoAccessUser => Some(&self.no_access_token),
            Caller::AgentWithoutPermission => Some(&self.clerk_token),
        };
        ApiClient {
            base: self.base().to_string(),
            token: token.cloned(),
        }
    }

    /// An API route of the OpenAPI document with the victim's ids in it.
    fn api_path(&self, template: &str) -> String {
        let segments: Vec<&str> = template.split('/').collect();
        let filled: Vec<String> = segments
            .iter()
            .enumerate()
            .map(|(i, segment)| match *segment {
                "{tenant}" => self.tenant().to_string(),
                "{intent}" => self.intent.clone(),
                "{id}" => match segments[i - 1] {
                    "customers" | "mappings" => self.shop.customer_id.to_string(),
                    "invoices" => self.invoice.to_string(),
                    "users" => self.victim_user.to_string(),
                    "agents" => self.clerk.to_string(),
                    "tokens" => self.victim_token.to_string(),
                    "email-templates" => "264".to_string(),
                    other => panic!(
                        "{template}: which of the victim's ids fits `{other}/{{id}}`? Add it to the authorization matrix"
                    ),
                },
                "{payment}" | "{refund}" => self.payment.to_string(),
                s if s.starts_with('{') => panic!(
                    "{template}: the authorization matrix has no value for {s}; add one"
                ),
                s => s.to_string(),
            })
            .collect();
        filled.join("/")
    }

    /// A minimal plausible body for an API route (an attempt on the victim's data).
    fn api_body(&self, method: &str, template: &str) -> Option<Value> {
        let route = template.strip_prefix(API).unwrap_or(template);
        let (customer, open) = (self.shop.customer_id, self.open_invoice);
        Some(match (method, route) {
            ("GET" | "DELETE", _) => return None,
            ("PATCH", "/settings") => json!({"stripe_processing_fee_percentage": "9.9"}),
            ("POST", "/customers") => json!({"name": "Intruder Co"}),
            ("PUT", "/customers/{id}") => json!({"name": "Hijacked Ltd"}),
            ("PUT", "/customers/{id}/automatic-payment-method") => {
                json!({"payment_method_id": null})
            }
            ("PUT", "/customers/{id}/autopay-cap") => json!({"stripe_autopay_max_amount": 1}),
            ("POST", "/mappings") => {
                json!({"customer_id": customer, "stripe_customer_id": "cus_intruder"})
            }
            ("POST", "/invoices") => json!({"number": "FORGED-1", "customer_id": customer,
                "currency": "usd", "issue_date": "2026-11-01", "due_date": "2026-11-30",
                "lines": [{"description": "Forged", "amount": 100}]}),
            ("POST", "/payments") => json!({"invoice_ids": [open], "pay_with": "saved_method"}),
            ("POST", "/payments/quote") => json!({"invoice_ids": [open], "method_type": "card"}),
            ("POST", "/invoices/{id}/charges") => {
                json!({"pay_with": "saved_method", "amount": 100})
            }
            ("POST", "/invoices/{id}/charges/quote") => json!({"pay_with": "saved_method"}),
            ("POST", "/customers/{id}/setup") => json!({}),
            ("POST", "/customers/{id}/setup/confirm") => {
                json!({"setup_intent_id": "seti_intruder", "payment_method_id": "pm_intruder"})
            }
            ("POST", "/webhooks/stripe-endpoint") => {
                json!({"url": "https://intruder.invalid/webhooks"})
            }
            ("PUT", "/email-templates/{id}") => json!({"name": "Stripe Payment Confirmation",
                "subject": "Hijacked", "body": "Send your card number to intruder.invalid"}),
            ("POST", "/users") => json!({"customer_id": customer, "name": "Mallory",
                "email": "mallory@intruder.test", "invoice_access_level": "customer"}),
            ("POST", "/recurring-invoices") => json!({"customer_id": customer, "currency": "usd",
                "description": "Forged", "amount": 100, "next_date": "2026-12-01"}),
            ("POST", "/autopay/run") => json!({"dry_run": false}),
            // Test connection, generate mappings, reconcile, refresh, tokens, and any new route.
            _ => json!({}),
        })
    }

    /// A page path or body with the victim's ids in it.
    fn fill(&self, template: &str) -> String {
        template
            .replace("{tenant}", self.tenant().as_str())
            .replace("{customer}", &self.shop.customer_id.to_string())
            .replace("{invoice}", &self.invoice.to_string())
            .replace("{open}", &self.open_invoice.to_string())
            .replace("{intent}", &self.intent)
            .replace("{payment}", &self.payment.to_string())
            // No refund is the victim's: a payment record's id stands in (refused before lookup).
            .replace("{refund}", &self.payment.to_string())
            .replace("{clerk}", &self.clerk.to_string())
            .replace("{no_access}", &self.no_access_user.to_string())
            .replace("{token}", &self.victim_token.to_string())
    }

    /// Whether an answer meets `expect`: the status, the victim's canaries (except those the
    /// caller sent itself, which an error message may echo), and the raw secrets.
    fn judge(
        &self,
        expect: Expect,
        status: u16,
        location: &str,
        flash: &str,
        text: &str,
        sent: &str,
    ) -> Result<(), String> {
        let to_login = status == 303 && (location == "/login" || location.starts_with("/login?"));
        let status_ok = match expect {
            Expect::Refused(codes) => codes.contains(&status) || to_login,
            Expect::Bounced(message) => status == 303 && flash.starts_with(message),
            Expect::Own => status < 500,
            // A Stripe refusal means the call passed every permission check and reached Stripe:
            // shop()'s recorder strips `customer` from list queries, so localstripe refuses the
            // payment-methods list that the agent routes make.
            Expect::Allowed => {
                (200..300).contains(&status)
                    || (status == 502 && text.contains(r#""kind":"stripe_rejected""#))
            }
            Expect::Skip => true,
        };
        let answer = format!("{location} {text}");
        let mut leaked: Vec<String> = self
            .secrets()
            .into_iter()
            .filter(|s| answer.contains(s.as_str()))
            .map(|s| format!("the raw secret `{s}`"))
            .collect();
        if !matches!(expect, Expect::Allowed) {
            leaked.extend(
                self.canaries
                    .iter()
                    .filter(|(_, v)| answer.contains(v.as_str()) && !sent.contains(v.as_str()))
                    .map(|(what, v)| format!("the victim's {what} `{v}`")),
            );
        }
        if status_ok && leaked.is_empty() {
            return Ok(());
        }
        let shown: String = text.chars().take(400).collect();
        Err(format!(
            "expected {expect:?}, got {status}{}{}: {shown}",
            if location.is_empty() {
                String::new()
            } else {
                format!(" → {location}")
            },
            if leaked.is_empty() {
                String::new()
            } else {
                format!("; LEAKED {}", leaked.join(", "))
            },
        ))
    }

    /// Stripe writes made with the victim's key since the recorder was cleared, and any
    /// PaymentIntent created at all.
    fn stripe_writes(&self, caller: Caller) -> Vec<String> {
        let victims_key = format!("Bearer {VICTIM_KEY}");
        self.shop
            .recorder
            .requests()
            .into_iter()
            .filter(|r| {
                (r.method != "GET"
                    && StripeRecorder::header(r, "authorization") == Some(victims_key.as_str()))
                    || (r.method == "POST" && r.path_and_query.starts_with("/v1/payment_intents"))
            })
            .map(|r| {
                format!(
                    "{}: Stripe received {} {} with the victim's key",
                    caller.describe(),
                    r.method,
                    r.path_and_query
                )
            })
            .collect()
    }

    /// Everything the victim's admin can read through the API's GET routes, and its people.
    fn snapshot(&self, operations: &[(String, String)]) -> Vec<(String, String)> {
        let mut seen: Vec<(String, String)> = operations
            .iter()
            .filter(|(method, _)| method == "GET")
            .map(|(_, template)| {
                let path = self.api_path(template);
                let answer = self.shop.admin.get(&path);
                let mut body = answer.body;
                let shown = if body.is_null() {
                    answer.text
                } else {
                    without_timestamps(&mut body);
                    body.to_string()
                };
                (path, format!("{} {shown}", answer.status))
            })
            .collect();
        let db = self.shop.host.db();
        for u in db.users(self.tenant()).unwrap() {
            seen.push((
                format!("user {} <{}>", u.id, u.email),
                format!(
                    "customer {}, access {}",
                    u.customer_id,
                    access_level_name(u.invoice_access_level)
                ),
            ));
        }
        for a in db.agents(self.tenant()).unwrap() {
            seen.push((
                format!("agent {} <{}>", a.id, a.email),
                format!(
                    "admin {}, can receive {}",
                    a.is_admin, a.can_receive_manual_stripe_payments
                ),
            ));
        }
        seen
    }
}

/// Drop what moves by itself (a webhook or a read-back touches a record's timestamps, and a
/// read-back re-observes a payment at Stripe's later `Date`).
fn without_timestamps(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.remove("updated_at");
            map.remove("observed_at");
            map.remove("last_used_at");
            map.remove("webhook_received_at");
            map.values_mut().for_each(without_timestamps);
        }
        Value::Array(items) => items.iter_mut().for_each(without_timestamps),
        _ => {}
    }
}

fn compare(before: &[(String, String)], after: &[(String, String)], failures: &mut Vec<String>) {
    let after: BTreeMap<&String, &String> = after.iter().map(|(k, v)| (k, v)).collect();
    for (what, was) in before {
        match after.get(what) {
            Some(now) if *now == was => {}
            now => failures.push(format!(
                "the victim's {what} changed:\n  before: {was}\n  after:  {}",
                now.map_or("(gone)", |n| n.as_str())
            )),
        }
    }
    if after.len() != before.len() {
        failures.push(format!(
            "the victim's records changed in number: {} before, {} after",
            before.len(),
            after.len()
        ));
    }
}

/// An API error answer is the documented shape: `{"error": {"kind", "message", "fields"?,
/// "stripe_request_id"?}}` and nothing else, with a kind and a message.
fn error_shape(status: u16, text: &str) -> Result<(), String> {
    if status < 400 {
        return Ok(());
    }
    let shown: String = text.chars().take(200).collect();
    let body: Value = serde_json::from_str(text)
        .map_err(|e| format!("error answer {status} is not JSON ({e}): {shown}"))?;
    let error = body
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.get("error"))
        .and_then(Value::as_object)
        .ok_or_else(|| format!("error answer {status} is not {{\"error\": {{…}}}}: {shown}"))?;
    let known = ["kind", "message", "fields", "stripe_request_id"];
    let well_formed = error.keys().all(|k| known.contains(&k.as_str()))
        && error
            .get("kind")
            .and_then(Value::as_str)
            .is_some_and(|k| !k.is_empty())
        && error
            .get("message")
            .and_then(Value::as_str)
            .is_some_and(|m| !m.is_empty())
        && error.get("fields").is_none_or(|f| {
            f.as_array().is_some_and(|f| {
                f.iter()
                    .all(|p| p["field"].is_string() && p["message"].is_string())
            })
        });
    if well_formed {
        Ok(())
    } else {
        Err(format!(
            "error answer {status} is not the documented shape: {shown}"
        ))
    }
}

/// The API's operations, (METHOD, path), from the server's OpenAPI document; routes outside the
/// tenant API are only the ones known to be public.
fn api_operations(w: &World) -> Vec<(String, String)> {
    let doc = w.shop.admin.get("/api/openapi.json");
    assert_eq!(doc.status, 200, "{}", doc.text);
    let mut operations = Vec::new();
    for (path, item) in doc.body["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            if path.starts_with(&format!("{API}/")) {
                operations.push((method.to_uppercase(), path.clone()));
            } else {
                assert_eq!(
                    path, "/healthz",
                    "{method} {path} is outside /api/v1/tenants/{{tenant}}: add it to the authorization matrix"
                );
            }
        }
    }
    operations.sort();
    operations
}

/// The (METHOD, path) pairs a `routes()` function registers: each `.route(` call's path literal
/// and the method routers that follow it.
fn registered(source: &str, prefix: &str) -> BTreeSet<(String, String)> {
    let start = source.find("pub fn routes()").expect("a routes() function");
    let body = &source[start..];
    let body = &body[..body.find("\n}\n").unwrap_or(body.len())];
    let mut routes = BTreeSet::new();
    for chunk in body.split(".route(").skip(1) {
        let open = chunk.find('"').expect("a path literal") + 1;
        let close = open + chunk[open..].find('"').expect("the literal's end");
        let path = chunk[open..close]
            .replace("{t}", prefix)
            .replace("{{", "{")
            .replace("}}", "}");
        let mut methods = 0;
        for method in ["get", "post", "put", "patch", "delete"] {
            methods += chunk[close..].matches(&format!("{method}(")).count();
            if chunk[close..].contains(&format!("{method}(")) {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
        assert!(methods > 0, "no method router for {path}");
    }
    routes
}

/// A page route of the hand list as `pages/mod.rs` writes it.
fn route_of(path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    [
        "{customer}",
        "{invoice}",
        "{open}",
        "{clerk}",
        "{no_access}",
        "{token}",
    ]
    .iter()
    .fold(path.to_string(), |p, placeholder| {
        p.replace(placeholder, "{id}")
    })
}

#[test]
fn the_page_list_of_the_matrix_names_every_page_route_the_server_registers() {
    let source = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../host/src/web/pages/mod.rs"
    ));
    let listed: BTreeSet<(String, String)> = PAGES
        .iter()
        .map(|c| (c.method.to_string(), route_of(c.path)))
        .collect();
    assert_eq!(listed.len(), PAGES.len(), "a page case is listed twice");
    let listed_routes: BTreeSet<&String> = listed.iter().map(|(_, path)| path).collect();
    assert_eq!(
        listed_routes.len(),
        source.matches(".route(").count(),
        "the hand list of page routes and the `.route(` calls of host/src/web/pages/mod.rs differ in number"
    );
    assert_eq!(
        listed,
        registered(source, ""),
        "the hand list of page routes and methods differs from host/src/web/pages/mod.rs"
    );
}

#[test]
fn every_api_route_refuses_every_caller_who_may_not_see_or_touch_the_victims_data() {
    let w = world("authz-api");
    let operations = api_operations(&w);
    let router = registered(
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../host/src/web/api/mod.rs"
        )),
        API,
    );
    let documented: BTreeSet<(String, String)> = operations.iter().cloned().collect();
    assert_eq!(
        documented, router,
        "the OpenAPI document and the API router (host/src/web/api/mod.rs) list different operations"
    );
    let before = w.snapshot(&operations);
    let mut failures = Vec::new();
    let mut cells = 0;
    for caller in CALLERS {
        w.shop.recorder.clear();
        let client = w.api_client(caller);
        for (method, template) in &operations {
            let expect = api_expectation(caller, method, template);
            if matches!(expect, Expect::Skip) {
                continue;
            }
            let path = w.api_path(template);
            let body = w.api_body(method, template);
            let sent = format!(
                "{path} {}",
                body.as_ref().map(Value::to_string).unwrap_or_default()
            );
            let answer = client.request(method, &path, body);
            cells += 1;
            if let Err(why) = w.judge(expect, answer.status, "", "", &answer.text, &sent) {
                failures.push(format!("{} {method} {path}: {why}", caller.describe()));
            }
            if let Err(why) = error_shape(answer.status, &answer.text) {
                failures.push(format!("{} {method} {path}: {why}", caller.describe()));
            }
        }
        failures.extend(w.stripe_writes(caller));
    }

    // The routes outside the tenant API: public, and nothing of the victim's; the webhook
    // receiver refuses an unsigned event about the victim's payment.
    let anonymous = w.api_client(Caller::Anonymous);
    let forged = json!({"id": "evt_forged", "type": "payment_intent.succeeded",
                        "data": {"object": {"id": w.intent, "object": "payment_intent", "status": "succeeded"}}});
    for (method, path, body, expect) in [
        ("GET", "/healthz".to_string(), None, O),
        ("GET", "/api/openapi.json".to_string(), None, O),
        // No metrics token is configured on this server: the route does not exist.
        ("GET", "/metrics".to_string(), None, Expect::Refused(&[404])),
        (
            "POST",
            format!("/webhooks/stripe/{}", w.tenant()),
            Some(forged),
            Expect::Refused(&[400]),
        ),
    ] {
        let sent = format!(
            "{path} {}",
            body.as_ref().map(Value::to_string).unwrap_or_default()
        );
        let answer = anonymous.request(method, &path, body);
        cells += 1;
        if let Err(why) = w.judge(expect, answer.status, "", "", &answer.text, &sent) {
            failures.push(format!("anonymous caller {method} {path}: {why}"));
        }
    }

    // Nothing the victim's admin can read changed (compared before its own calls below: viewing
    // an invoice as an agent who may take payments quotes it, which cancels an abandoned intent).
    compare(&before, &w.snapshot(&operations), &mut failures);

    // Positive control: the victim's admin reads every GET route, and sees every canary there.
    let mut shown = String::new();
    for (method, template) in operations.iter().filter(|(m, _)| m == "GET") {
        let path = w.api_path(template);
        let answer = w.shop.admin.get(&path);
        if let Err(why) = w.judge(Expect::Allowed, answer.status, "", "", &answer.text, "") {
            failures.push(format!("the victim's admin {method} {path}: {why}"));
        }
        shown.push_str(&answer.text);
    }
    for (what, value) in w
        .canaries
        .iter()
        .filter(|(what, _)| CANARIES_IN_API.contains(what))
    {
        assert!(
            shown.contains(value.as_str()),
            "the canary {what} `{value}` is not what the victim's admin reads: the matrix would not see it leak"
        );
    }
    assert!(
        failures.is_empty(),
        "{} problem(s) in the API authorization matrix ({cells} cells: {} operations × {} callers, and the public routes):\n{}",
        failures.len(),
        operations.len(),
        CALLERS.len(),
        failures.join("\n")
    );
}

/// A page session: its cookie and CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

/// A page's answer, redirects not followed.
struct Reply {
    status: u16,
    location: String,
    text: String,
}

fn send_page(
    base: &str,
    method: &str,
    path: &str,
    session: Option<&Session>,
    body: Option<(&str, String)>,
) -> Reply {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(std::time::Duration::from_secs(120)))
        .build()
        .new_agent();
    let mut request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"));
    if let Some(s) = session {
        request = request
            .header("Cookie", &s.cookie)
            .header("X-CSRF-Token", &s.csrf);
    }
    let mut response = match body {
        Some((content_type, payload)) => agent.run(
            request
                .header("Content-Type", content_type)
                .body(payload)
                .unwrap(),
        ),
        None => agent.run(request.body(()).unwrap()),
    }
    .expect("the page answers");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let location = header("location");
    let bytes = response.body_mut().read_to_vec().unwrap_or_default();
    Reply {
        status: response.status().as_u16(),
        location,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn sign_in(w: &World, tenant: &TenantId, email: &str, agent: bool) -> Session {
    let cookie =
        paydesk_tests::signin::session_cookie(w.base(), tenant.as_str(), email, PASSWORD, agent);
    let token = cookie
        .strip_prefix("paydesk_session=")
        .expect("the session cookie");
    let (_, _, csrf) = w
        .shop
        .host
        .db()
        .session(token)
        .unwrap()
        .expect("the session");
    Session { cookie, csrf }
}

#[test]
fn every_page_refuses_every_caller_who_may_not_see_or_touch_the_victims_data() {
    let w = world("authz-pages");
    let operations = api_operations(&w);
    let sessions: Vec<Option<Session>> = CALLERS
        .iter()
        .map(|caller| match caller {
            Caller::Anonymous => None,
            Caller::OtherTenantAdmin => Some(sign_in(&w, &w.other_tenant, BOSS, true)),
            Caller::OtherCustomersUser => Some(sign_in(&w, w.tenant(), BYSTANDER, false)),
            Caller::NoAccessUser => Some(sign_in(&w, w.tenant(), NO_ACCESS, false)),
            Caller::AgentWithoutPermission => Some(sign_in(&w, w.tenant(), CLERK, true)),
        })
        .collect();
    let before = w.snapshot(&operations);
    // Signing out ends the caller's session: last.
    let mut cases: Vec<&PageCase> = PAGES.iter().collect();
    cases.sort_by_key(|c| c.path == "/logout");
    let mut failures = Vec::new();
    let mut cells = 0;
    for (column, caller) in CALLERS.iter().enumerate() {
        w.shop.recorder.clear();
        let session = sessions[column].as_ref();
        for case in &cases {
            let expect = case.expect[column];
            if matches!(expect, Expect::Skip) {
                continue;
            }
            let path = w.fill(case.path);
            let csrf = session.map(|s| s.csrf.as_str()).unwrap_or("");
            let body = match case.body {
                Body::None if case.method == "GET" => None,
                Body::None => Some(("application/x-www-form-urlencoded", String::new())),
                Body::Form(fields) => {
                    let mut pairs: Vec<(String, String)> = fields
                        .iter()
                        .map(|(k, v)| (k.to_string(), w.fill(v)))
                        .collect();
                    pairs.push(("csrf".into(), csrf.to_string()));
                    Some((
                        "application/x-www-form-urlencoded",
                        serde_urlencoded::to_string(pairs).unwrap(),
                    ))
                }
                Body::Json(template) => Some(("application/json", w.fill(template))),
            };
            let sent = format!(
                "{path} {}",
                body.as_ref().map(|(_, b)| b.as_str()).unwrap_or("")
            );
            let reply = send_page(w.base(), case.method, &path, session, body);
            cells += 1;
            // A page's "not done" message is kept by the server for the session; the redirect
            // names it by id.
            let shown = match (reply.location.split_once("msg="), session) {
                (Some((_, id)), Some(s)) if reply.status == 303 => w
                    .shop
                    .host
                    .db()
                    .flash(s.cookie.trim_start_matches("paydesk_session="), id)
                    .unwrap()
                    .unwrap_or_default(),
                _ => String::new(),
            };
            if let Err(why) = w.judge(
                expect,
                reply.status,
                &reply.location,
                &shown,
                &reply.text,
                &sent,
            ) {
                failures.push(format!(
                    "{} {} {path}: {why}",
                    caller.describe(),
                    case.method
                ));
            }
        }
        failures.extend(w.stripe_writes(*caller));
    }

    // Nothing the victim's admin can read changed (compared before the victim's own page views
    // below: its admin's invoice page quotes the invoice, which cancels an abandoned intent).
    compare(&before, &w.snapshot(&operations), &mut failures);

    // Positive control: the victim's admin and portal user get their pages, with the canaries.
    let admin = sign_in(&w, w.tenant(), ADA, true);
    let payer_email = w
        .canaries
        .iter()
        .find(|(what, _)| *what == "portal user's email")
        .map(|(_, v)| v.clone())
        .unwrap();
    let payer = sign_in(&w, w.tenant(), &payer_email, false);
    let mut shown = String::new();
    for (as_admin, template) in VICTIM_PAGES {
        let path = w.fill(template);
        let session = if *as_admin { &admin } else { &payer };
        let reply = send_page(w.base(), "GET", &path, Some(session), None);
        cells += 1;
        if let Err(why) = w.judge(
            Expect::Allowed,
            reply.status,
            &reply.location,
            "",
            &reply.text,
            "",
        ) {
            failures.push(format!("the victim's own GET {path}: {why}"));
        }
        shown.push_str(&reply.text);
    }
    for (what, value) in w
        .canaries
        .iter()
        .filter(|(what, _)| CANARIES_ON_PAGES.contains(what))
    {
        assert!(
            shown.contains(value.as_str()),
            "the canary {what} `{value}` is not on the victim's own pages: the matrix would not see it leak"
        );
    }
    assert!(
        failures.is_empty(),
        "{} problem(s) in the page authorization matrix ({cells} cells: {} page cases × {} callers, and the victim's own pages):\n{}",
        failures.len(),
        PAGES.len(),
        CALLERS.len(),
        failures.join("\n")
    );
}
