//! Invoice documents in every script: PDFs of invoices for customers named in Japanese, Arabic,
//! Polish, Greek and Russian, fetched by an agent from `/app/invoices/{id}/pdf` and read back with
//! `pdftotext` (poppler-utils, `scripts/setup.sh browser`). The host writes them in its default
//! fonts, Debian's (`scripts/setup.sh fonts`).

use serde_json::json;

use paydesk_tests::host::TestHost;

const AGENT: &str = "clerk@tenant.test";
const PASSWORD: &str = "correct horse battery staple";

/// No Stripe behind it: nothing here is mapped to a Stripe customer, so nothing calls Stripe.
const NO_STRIPE: &str = "http://127.0.0.1:9";

/// A tenant with an agent who signs in, and the agent's session cookie.
struct Desk {
    _host: TestHost,
    base: String,
    tenant: String,
    admin: paydesk_tests::host::ApiClient,
    cookie: String,
}

fn desk(name: &str) -> Desk {
    let host = TestHost::new(NO_STRIPE);
    let tenant = host.tenant(name, "sk_test_documents", |s| {
        s.stripe_currency = "usd".into();
    });
    host.agent_with_password(&tenant, AGENT, PASSWORD, false, false);
    let server = host.serve();
    let admin = server.with_token(&host.admin_token(&tenant));
    let cookie =
        paydesk_tests::signin::session_cookie(&server.base, tenant.as_str(), AGENT, PASSWORD, true);
    Desk {
        base: server.base.clone(),
        tenant: tenant.to_string(),
        _host: host,
        admin,
        cookie,
    }
}

impl Desk {
    /// Invoice `number` of a new customer named `customer`, with one line; its id.
    fn invoice(
        &self,
        number: &str,
        customer: &str,
        currency: &str,
        line: &str,
        amount: i64,
    ) -> i64 {
        let path = |rest: &str| format!("/api/v1/tenants/{}{rest}", self.tenant);
        let created = self
            .admin
            .post(&path("/customers"), json!({"name": customer}));
        assert_eq!(created.status, 201, "{}", created.text);
        let invoice = self.admin.post(
            &path("/invoices"),
            json!({"number": number, "customer_id": created.body["customer"]["id"],
                   "currency": currency, "issue_date": "2026-11-01", "due_date": "2026-11-30",
                   "lines": [{"description": line, "amount": amount}]}),
        );
        assert_eq!(invoice.status, 201, "{}", invoice.text);
        invoice.body["id"].as_i64().unwrap()
    }

    /// The invoice's PDF as the agent downloads it.
    fn pdf(&self, invoice: i64) -> Vec<u8> {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .new_agent();
        let mut answer = agent
            .get(&format!("{}/app/invoices/{invoice}/pdf", self.base))
            .header("Cookie", &self.cookie)
            .call()
            .unwrap();
        assert_eq!(answer.status().as_u16(), 200);
        let bytes = answer.body_mut().read_to_vec().unwrap();
        assert!(bytes.starts_with(b"%PDF-"));
        bytes
    }
}

/// The document's text as `pdftotext` gives it, one entry per line, empty lines left out.
fn pdftotext(pdf: &[u8]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("invoice.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg("-enc")
        .arg("UTF-8")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (scripts/setup.sh browser installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("UTF-8 text")
        .lines()
        .map(|l| l.trim_end_matches('\u{c}').to_string())
        .filter(|l| !l.trim().is_empty())
        .collect()
}

/// pdftotext marks each right-to-left run with U+202B RIGHT-TO-LEFT EMBEDDING … U+202C POP
/// DIRECTIONAL FORMATTING around its letters, which it gives in logical (reading) order.
fn rtl(text: &str) -> String {
    format!("\u{202b}{text}\u{202c}")
}

/// The lines pdftotext reads back from an invoice of `customer` with one line `line` for
/// `amount` (pdftotext puts a line's amount, four spaces on, on a line of its own).
fn expected(number: &str, customer: &str, line: &str, amount: &str) -> Vec<String> {
    vec![
        format!("Invoice {number}"),
        customer.to_string(),
        "Issued 2026-11-01, due 2026-11-30".to_string(),
        line.to_string(),
        amount.to_string(),
        format!("Amount due: {amount}"),
        "Payment method: No automatic payment setup".to_string(),
    ]
}

#[test]
fn names_in_every_script_come_back_from_the_invoice_pdf_as_written() {
    let desk = desk("docscripts");
    let cases = [
        (
            "株式会社テスト",
            "jpy",
            "保守サービス",
            120_000,
            "JPY 120000",
        ),
        ("شركة", "kwd", "خدمات الصيانة", 12_345, "KWD 12.345"),
        // Lam and alef print as one glyph, read back as both letters in order.
        ("شركة الاختبار", "kwd", "الاستشارات", 500, "KWD 0.500"),
        ("Łódź Sp. z o.o.", "pln", "Usługi", 123_450, "PLN 1234.50"),
        (
            "Ελληνική Εταιρεία Α.Ε.",
            "eur",
            "Υπηρεσίες",
            9_900,
            "EUR 99.00",
        ),
        ("ООО «Ромашка»", "rub", "Услуги", 150_000, "RUB 1500.00"),
    ];
    for (n, (customer, currency, line, amount, formatted)) in cases.into_iter().enumerate() {
        let number = format!("INV-{}", n + 1);
        let text = pdftotext(&desk.pdf(desk.invoice(&number, customer, currency, line, amount)));
        let want = if currency == "kwd" {
            // On the page the Arabic description is left of its amount, as every line's is.
            expected(&number, &rtl(customer), &rtl(line), formatted)
        } else {
            expected(&number, customer, line, formatted)
        };
        assert_eq!(text, want, "{customer}");
    }
}

#[test]
fn the_invoice_pdf_embeds_only_the_glyphs_it_uses() {
    let desk = desk("docsubset");
    let pdf = desk.pdf(desk.invoice("INV-1", "株式会社テスト", "jpy", "保守サービス", 120_000));
    let raw = String::from_utf8_lossy(&pdf);
    // Two fonts of the chain: Noto Sans for the template's Latin, Droid Sans Fallback for the
    // Japanese, each a tagged subset (`ABCDEF+Name`) with a ToUnicode map.
    for name in ["NotoSans-Regular", "DroidSansFallback"] {
        let tagged = raw
            .split("/BaseFont /")
            .skip(1)
            .any(|rest| rest.get(6..7) == Some("+") && rest[7..].starts_with(name));
        assert!(tagged, "no subset of {name} in the PDF");
    }
    assert_eq!(raw.matches("/ToUnicode").count(), 2);
    let programs: Vec<usize> = raw
        .split("/Length1 ")
        .skip(1)
        .map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().expect("a font program's length")
        })
        .collect();
    assert_eq!(programs.len(), 2, "{programs:?}");
    let sources: Vec<u64> = paydesk_host::pdf::fonts::DEFAULT_PATHS[..3]
        .iter()
        .map(|p| {
            std::fs::metadata(p)
                .expect("scripts/setup.sh fonts installs it")
                .len()
        })
        .collect();
    let smallest = *sources.iter().min().unwrap() as usize;
    for program in &programs {
        assert!(
            program * 10 < smallest,
            "a {program}-byte font program from fonts of {sources:?} bytes"
        );
    }
    assert!(pdf.len() < 64 << 10, "{} bytes", pdf.len());
}
