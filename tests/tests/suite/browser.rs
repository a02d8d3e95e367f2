//! The pages in a real browser (headless Debian Chromium through ChromeDriver), against
//! localstripe's fake Stripe.js: the portal's "My Invoices" paid with a new card, "Add payment
//! method" under each `show_auto_payment_on_portal` setting, the agent's "Receive Payment
//! (Manual)", the setup page, and the invoice PDF read back with pdftotext. Screenshots of the main
//! pages go to docs/screenshots/ for the README.

use std::time::Duration;

use fantoccini::Locator;
use serde_json::json;

use crate::payments::{Shop, attach_card, fee_lines, shop, stripe_request};
use paydesk_tests::browser::Browser;

const PASSWORD: &str = "correct horse battery";
const ADMIN: &str = "ada@tenant.test";
const CLERK: &str = "clerk@tenant.test";
const CASHIER: &str = "cashier@tenant.test";
const PAYER: &str = "payer@customer.test";

fn run<T>(f: impl std::future::Future<Output = anyhow::Result<T>>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
        .expect("browser test")
}

fn people(shop: &Shop) {
    shop.host
        .agent_with_password(&shop.tenant, ADMIN, PASSWORD, true, true);
    shop.host
        .agent_with_password(&shop.tenant, CLERK, PASSWORD, false, false);
    shop.host
        .agent_with_password(&shop.tenant, CASHIER, PASSWORD, false, true);
    shop.host.user_password(&shop.tenant, PAYER, PASSWORD);
}

#[test]
fn a_portal_user_pays_all_outstanding_with_a_new_card() {
    let shop = shop("browserpay", "usd", |_| {});
    people(&shop);
    let ids: Vec<i64> = [2_500, 12_000]
        .iter()
        .map(|a| shop.invoice("usd", *a))
        .collect();
    // Another customer's invoice: never shown to this user.
    let other = shop
        .admin
        .post(&shop.path("/customers"), json!({"name": "Other Co"}));
    let foreign = shop.admin.post(
        &shop.path("/invoices"),
        json!({"number": "OTHER-1", "customer_id": other.body["customer"]["id"], "currency": "usd",
               "issue_date": "2026-11-01", "due_date": "2026-11-30", "lines": [{"description": "x", "amount": 999}]}),
    );
    assert_eq!(foreign.status, 201);
    run(async {
        let b = Browser::start(&shop.admin.base, 1200).await?;
        b.sign_in(shop.tenant.as_str(), PAYER, PASSWORD, false)
            .await?;
        let page = b
            .wait_for_text("My Invoices", paydesk_tests::EVENT_WAIT)
            .await?;
        assert!(
            page.contains("INV-0001") && page.contains("INV-0002"),
            "{page}"
        );
        assert!(
            !page.contains("OTHER-1"),
            "another customer's invoice is shown:\n{page}"
        );
        b.screenshot("portal-my-invoices").await?;
        b.client.find(Locator::Id("pay-all")).await?.click().await?;
        // The total and each fee before paying: 2.9 % of 25.00 = 0.725 → 0.73; of 120.00 = 3.48.
        let quote = b
            .wait_for_text("Processing fee", paydesk_tests::EVENT_WAIT)
            .await?;
        assert!(
            quote.contains("USD 0.73")
                && quote.contains("USD 3.48")
                && quote.contains("USD 149.21"),
            "{quote}"
        );
        b.screenshot("portal-pay-all").await?;
        b.fill_card(".pay-new", "4242424242424242").await?;
        b.client
            .find(Locator::Css(".pay-new-button"))
            .await?
            .click()
            .await?;
        let done = b.wait_for_text("Paid", paydesk_tests::EVENT_WAIT).await;
        if let Err(e) = &done {
            for el in b.client.find_all(Locator::Css(".pay-error")).await? {
                eprintln!("pay error: {}", el.text().await?);
            }
            eprintln!("{e}");
        }
        done?;
        Ok(())
    });
    for id in &ids {
        let view = shop.invoice_view(*id);
        assert_eq!(view["status"], "paid", "{view}");
        assert_eq!(fee_lines(&view).len(), 1);
    }
    assert_eq!(
        shop.invoice_view(ids[0])["payments"][0]["intent_id"],
        shop.invoice_view(ids[1])["payments"][0]["intent_id"],
        "one PaymentIntent"
    );
    shop.deliver_mail();
    let mail = shop.smtp.wait_for(1, paydesk_tests::EVENT_WAIT);
    assert!(mail[0].cc.iter().any(|c| c == PAYER), "{:?}", mail[0].cc);
}

#[test]
fn add_payment_method_follows_the_portal_setting() {
    let shop = shop("browsermethod", "usd", |s| {
        s.show_auto_payment_on_portal = paydesk_host::settings::PortalAccess::Show
    });
    people(&shop);
    run(async {
        let b = Browser::start(&shop.admin.base, 1200).await?;
        b.sign_in(shop.tenant.as_str(), PAYER, PASSWORD, false)
            .await?;
        b.wait_for_text("My Invoices", paydesk_tests::EVENT_WAIT)
            .await?;
        b.client
            .find(Locator::Id("add-payment-method"))
            .await?
            .click()
            .await?;
        b.wait_for_text("Add payment method", paydesk_tests::EVENT_WAIT)
            .await?;
        b.fill_card(".add-method", "4000056655665556").await?;
        b.client
            .find(Locator::Css(".add-method-button"))
            .await?
            .click()
            .await?;
        let page = b
            .wait_for_text("ending 5556", paydesk_tests::EVENT_WAIT)
            .await?;
        assert!(
            page.contains("Automatic payment method: Visa ending 5556"),
            "{page}"
        );
        Ok(())
    });
    let customer = shop
        .admin
        .get(&shop.path(&format!("/customers/{}", shop.customer_id)))
        .body;
    assert!(
        customer["stripe_payment_method_name"]
            .as_str()
            .unwrap()
            .contains("5556"),
        "{customer}"
    );

    // Hide: no button. Only if set: shown to a customer that has one, not to one without.
    let set = |value: &str| {
        assert_eq!(
            shop.admin
                .patch(
                    &shop.path("/settings"),
                    json!({"show_auto_payment_on_portal": value})
                )
                .status,
            200
        )
    };
    let without = shop
        .admin
        .post(&shop.path("/customers"), json!({"name": "No Method Ltd"}));
    let cus = stripe_request(
        &shop.stripe,
        "POST",
        "/v1/customers",
        &[("name", "No Method Ltd")],
    );
    let without_id = without.body["customer"]["id"].as_i64().unwrap();
    shop.admin.post(
        &shop.path("/mappings"),
        json!({"customer_id": without_id, "stripe_customer_id": cus["id"]}),
    );
    shop.admin.post(&shop.path("/users"), json!({"customer_id": without_id, "name": "Nia", "email": "nia@nomethod.test", "invoice_access_level": "customer"}));
    shop.host
        .user_password(&shop.tenant, "nia@nomethod.test", PASSWORD);
    let has_button = |email: &str| {
        run(async {
            let b = Browser::start(&shop.admin.base, 1200).await?;
            b.sign_in(shop.tenant.as_str(), email, PASSWORD, false)
                .await?;
            b.wait_for_text("My Invoices", paydesk_tests::EVENT_WAIT)
                .await?;
            Ok(b.client
                .find_all(Locator::Id("add-payment-method"))
                .await?
                .len()
                == 1)
        })
    };
    set("hide");
    assert!(!has_button(PAYER), "Hide: no Add payment method");
    set("only_if_set");
    assert!(
        has_button(PAYER),
        "Only if set: shown to a customer that has a method"
    );
    assert!(
        !has_button("nia@nomethod.test"),
        "Only if set: not shown to a customer without one"
    );
}

#[test]
fn receive_payment_is_for_agents_with_the_permission() {
    let shop = shop("browseragent", "usd", |_| {});
    people(&shop);
    let invoice = shop.invoice("usd", 8_000);
    run(async {
        let b = Browser::start(&shop.admin.base, 1200).await?;
        b.sign_in(shop.tenant.as_str(), CLERK, PASSWORD, true)
            .await?;
        b.goto(&format!("/app/invoices/{invoice}")).await?;
        let page = b
            .wait_for_text("Invoice INV-0001", paydesk_tests::EVENT_WAIT)
            .await?;
        assert!(
            !page.contains("Receive Payment (Manual)"),
            "an agent without the permission sees no payment form:\n{page}"
        );
        Ok(())
    });
    run(async {
        let b = Browser::start(&shop.admin.base, 1200).await?;
        b.sign_in(shop.tenant.as_str(), CASHIER, PASSWORD, true)
            .await?;
        b.goto(&format!("/app/invoices/{invoice}")).await?;
        let page = b
            .wait_for_text("Receive Payment (Manual)", paydesk_tests::EVENT_WAIT)
            .await?;
        assert!(
            page.contains("No payments yet"),
            "an invoice without payments says so:\n{page}"
        );
        b.screenshot("agent-invoice").await?;
        let button = b.client.find(Locator::Id("pay-saved")).await?;
        let label = button.text().await?;
        // USD 80.00 and its 2.9% fee of USD 2.32.
        assert!(
            label.contains("USD 82.32") && label.contains("Visa ending 4242"),
            "the button shows the total with its fee and the method: {label}"
        );
        button.click().await?;
        // One click charges nothing: the confirmation names the amount, the fee and the method.
        let confirm = b
            .wait_for_text("Confirm the charge", paydesk_tests::EVENT_WAIT)
            .await?;
        for said in ["USD 82.32", "USD 80.00", "USD 2.32", "Visa ending 4242"] {
            assert!(
                confirm.contains(said),
                "the confirmation says {said}:\n{confirm}"
            );
        }
        assert!(
            shop.intent_creations().is_empty(),
            "nothing is charged before the agent confirms"
        );
        b.screenshot("agent-confirm-charge").await?;
        b.client
            .find(Locator::Id("confirm-pay-saved"))
            .await?
            .click()
            .await?;
        let page = b
            .wait_for_text("succeeded", paydesk_tests::EVENT_WAIT)
            .await?;
        assert!(
            page.contains("Processing fee (2.9%)"),
            "the fee line is on the invoice:\n{page}"
        );
        Ok(())
    });
    assert_eq!(shop.invoice_view(invoice)["status"], "paid");
}

#[test]
fn the_setup_page_saves_shows_field_errors_never_a_secret_and_generates_mappings() {
    let shop = shop("browsersetup", "usd", |_| {});
    people(&shop);
    stripe_request(
        &shop.stripe,
        "POST",
        "/v1/customers",
        &[("name", "Exact Match Ltd")],
    );
    shop.admin
        .post(&shop.path("/customers"), json!({"name": "Exact Match Ltd"}));
    run(async {
        let b = Browser::start(&shop.admin.base, 1200).await?;
        b.sign_in(shop.tenant.as_str(), ADMIN, PASSWORD, true)
            .await?;
        b.goto("/app/setup").await?;
        b.wait_for_text("Stripe integration", paydesk_tests::EVENT_WAIT)
            .await?;
        let source = b.client.source().await?;
        assert!(
            source.contains("sk_test_…") && !source.contains("sk_test_shop"),
            "the secret key must never be on the page"
        );
        b.screenshot("setup").await?;
        // A publishable key in the secret field: the field is named, nothing saved.
        b.client
            .find(Locator::Css("input[name=stripe_secret_key]"))
            .await?
            .send_keys("pk_test_wrong_field")
            .await?;
        let fee = b
            .client
            .find(Locator::Css("input[name=stripe_processing_fee_percentage]"))
            .await?;
        fee.clear().await?;
        fee.send_keys("3.5").await?;
        b.client
            .find(Locator::Css("button[value=save]"))
            .await?
            .click()
            .await?;
        let page = b
            .wait_for_text("The settings were not saved", paydesk_tests::EVENT_WAIT)
            .await?;
        assert!(page.contains("stripe_secret_key"), "{page}");
        Ok(())
    });
    assert_eq!(
        shop.admin.get(&shop.path("/settings")).body["stripe_processing_fee_percentage"],
        "2.9",
        "a rejected save changes nothing"
    );
    run(async {
        let b = Browser::start(&shop.admin.base, 1200).await?;
        b.sign_in(shop.tenant.as_str(), ADMIN, PASSWORD, true)
            .await?;
        b.goto("/app/setup").await?;
        let fee = b
            .client
            .find(Locator::Css("input[name=stripe_processing_fee_percentage]"))
            .await?;
        fee.clear().await?;
        fee.send_keys("3.5").await?;
        b.client
            .find(Locator::Css("button[value=save]"))
            .await?
            .click()
            .await?;
        b.wait_for_text("Settings saved.", paydesk_tests::EVENT_WAIT)
            .await?;
        b.client
            .find(Locator::Css(
                "form[action='/app/setup/mappings/generate'] button",
            ))
            .await?
            .click()
            .await?;
        // The button's own label is on the page before the click lands: wait for the result.
        let page = b
            .wait_for_text("Mapped Exact Match Ltd to cus_", paydesk_tests::EVENT_WAIT)
            .await?;
        assert!(page.contains("Mapped Exact Match Ltd to cus_"), "{page}");
        Ok(())
    });
    assert_eq!(
        shop.admin.get(&shop.path("/settings")).body["stripe_processing_fee_percentage"],
        "3.5"
    );
}

#[test]
fn the_invoice_pdf_carries_the_payment_method_line() {
    let shop = shop("browserpdf", "usd", |_| {});
    people(&shop);
    let invoice = shop.invoice("usd", 4_200);
    // Sign in as the portal user with a plain HTTP client and fetch the PDF with the session cookie.
    let cookie = paydesk_tests::signin::session_cookie(
        &shop.admin.base,
        shop.tenant.as_str(),
        PAYER,
        PASSWORD,
        false,
    );
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent();
    let mut pdf = agent
        .get(&format!(
            "{}/portal/invoices/{invoice}/pdf",
            shop.admin.base
        ))
        .header("Cookie", &cookie)
        .call()
        .unwrap();
    assert_eq!(pdf.status().as_u16(), 200);
    let bytes = pdf.body_mut().read_to_vec().unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("invoice.pdf");
    std::fs::write(&path, bytes).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (scripts/browser-env.sh installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Invoice INV-0001"), "{text}");
    assert!(
        text.contains("Payment method: Visa ending 4242, expires 12/2030"),
        "{text}"
    );
    // Without a session, no PDF.
    let anonymous = agent
        .get(&format!(
            "{}/portal/invoices/{invoice}/pdf",
            shop.admin.base
        ))
        .call()
        .unwrap();
    assert_ne!(anonymous.status().as_u16(), 200);
}

#[test]
fn the_portal_fits_a_phone_screen() {
    let shop = shop("browserphone", "usd", |_| {});
    people(&shop);
    shop.invoice("usd", 1_999);
    run(async {
        let b = Browser::start(&shop.admin.base, 390).await?;
        b.sign_in(shop.tenant.as_str(), PAYER, PASSWORD, false)
            .await?;
        b.wait_for_text("My Invoices", paydesk_tests::EVENT_WAIT)
            .await?;
        let overflow = b
            .client
            .execute(
                "return document.documentElement.scrollWidth - window.innerWidth",
                vec![],
            )
            .await?
            .as_i64()
            .unwrap_or(i64::MAX);
        assert!(
            overflow <= 0,
            "the page scrolls sideways on a phone ({overflow}px too wide)"
        );
        b.screenshot("portal-phone").await?;
        Ok(())
    });
}

#[test]
fn a_payment_waiting_for_authentication_is_completed_from_the_portal_banner() {
    let shop = shop("browser3ds", "usd", |s| {
        s.enableautostripepayment = true;
        s.halointegrator_stripe = true;
    });
    people(&shop);
    // The automatic method is a card whose bank asks for authentication (3-D Secure).
    let cus = shop
        .admin
        .get(&shop.path(&format!("/customers/{}", shop.customer_id)))
        .body["stripe_customer_id"]
        .as_str()
        .unwrap()
        .to_string();
    let pm = attach_card(&shop.stripe, &cus, "4000002760003184");
    let pm_id = pm.as_str();
    let set = shop.admin.put(
        &shop.path(&format!(
            "/customers/{}/automatic-payment-method",
            shop.customer_id
        )),
        json!({"payment_method_id": pm_id}),
    );
    assert_eq!(set.status, 200, "{}", set.text);
    let recurring = shop.admin.post(
        &shop.path("/recurring-invoices"),
        json!({"customer_id": shop.customer_id, "currency": "usd", "description": "Monthly support", "amount": 6_000, "next_date": "2026-12-01"}),
    );
    assert_eq!(recurring.status, 201, "{}", recurring.text);
    let report = shop
        .host
        .app
        .run_autopay(&shop.tenant, Some("2026-12-01"), false, &mut |_, _| {})
        .unwrap();
    assert!(
        report
            .results
            .iter()
            .any(|r| r.message.contains("authenticate")),
        "{:?}",
        report.results
    );
    run(async {
        let b = Browser::start(&shop.admin.base, 1200).await?;
        b.sign_in(shop.tenant.as_str(), PAYER, PASSWORD, false)
            .await?;
        b.wait_for_text(
            "needs you to confirm the payment",
            paydesk_tests::EVENT_WAIT,
        )
        .await?;
        b.screenshot("portal-authentication-banner").await?;
        b.client
            .find(Locator::Css(".complete-action"))
            .await?
            .click()
            .await?;
        // localstripe's fake Stripe.js asks in a dialog of its own.
        let deadline = std::time::Instant::now() + paydesk_tests::EVENT_WAIT;
        loop {
            let buttons = b
                .client
                .find_all(Locator::XPath("//button[text()='Complete authentication']"))
                .await?;
            if let Some(button) = buttons.first() {
                button.click().await?;
                break;
            }
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "no authentication dialog"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let page = b.wait_for_text("Paid", paydesk_tests::EVENT_WAIT).await?;
        assert!(!page.contains("needs you to confirm"), "{page}");
        Ok(())
    });
    let invoice = shop.admin.get(&shop.path("/invoices")).body[0].clone();
    assert_eq!(invoice["status"], "paid", "{invoice}");
    assert_eq!(invoice["payments"][0]["status"], "succeeded");
}
