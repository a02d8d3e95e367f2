//! Payment emails: who gets them (the notification address; CC the customer's
//! accounts email, its accounts CC address and the paying user) and the template text with its
//! `$VARIABLES` filled in. Pure.

/// The values a payment email can show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Variables {
    pub invoice_numbers: Vec<String>,
    pub customer_name: String,
    /// Formatted amounts (`USD 10.50`).
    pub amount: String,
    pub fee: String,
    pub total: String,
    pub payment_method: String,
    pub failure_reason: String,
    /// A link to the portal's invoices, if the tenant has a portal URL.
    pub portal_link: String,
}

/// Fill `$VARIABLES` in `template`. Unknown `$WORDS` stay as they are.
pub fn render(template: &str, v: &Variables) -> String {
    // Longest names first, so `$TOTAL` never eats part of a longer name.
    let invoices = v.invoice_numbers.join(", ");
    let pairs: [(&str, &str); 8] = [
        ("$INVOICENUMBER", &invoices),
        ("$CUSTOMERNAME", &v.customer_name),
        ("$PAYMENTMETHOD", &v.payment_method),
        ("$FAILUREREASON", &v.failure_reason),
        ("$PORTALLINK", &v.portal_link),
        ("$AMOUNT", &v.amount),
        ("$TOTAL", &v.total),
        ("$FEE", &v.fee),
    ];
    let mut out = template.to_string();
    for (name, value) in pairs {
        out = out.replace(name, value);
    }
    out
}

/// HTML-escape a value before it goes into an HTML body: all five of `& < > " '`, so it is safe
/// in text and in attribute values quoted either way.
pub fn escape_html(s: &str) -> String {
    html_escape::encode_quoted_attribute(s).into_owned()
}

/// Plain text as HTML: escaped, blank-line-separated paragraphs, line breaks kept.
pub fn text_to_html(text: &str) -> String {
    text.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| format!("<p>{}</p>", escape_html(p).replace('\n', "<br>")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// HTML to plain text, roughly: tags dropped, paragraphs kept as lines.
pub fn text_of(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for ch in html.replace("</p>", "\n").replace("<br>", "\n").chars() {
        match ch {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    // Only the entities the escaper writes (the crate's full decoder carries every HTML5 entity
    // name, 50 KiB of component); `&amp;` last, so `&amp;lt;` stays `&lt;`.
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// To and Cc of a payment email; none when there is nobody to tell.
pub fn recipients(
    notification: Option<&str>,
    accounts: Option<&str>,
    accounts_cc: Option<&str>,
    payer: Option<&str>,
) -> Option<(Vec<String>, Vec<String>)> {
    let mut cc: Vec<String> = Vec::new();
    for a in [accounts, accounts_cc, payer].into_iter().flatten() {
        let a = a.trim();
        if !a.is_empty() && !cc.iter().any(|c| c.eq_ignore_ascii_case(a)) {
            cc.push(a.to_string());
        }
    }
    let to = match notification.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => {
            cc.retain(|c| !c.eq_ignore_ascii_case(n));
            n.to_string()
        }
        None if cc.is_empty() => return None,
        None => cc.remove(0),
    };
    Some((vec![to], cc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_html_special_character_is_escaped_and_comes_back_in_the_text() {
        let name = r#"O'Brien & "Sons" <b>"#;
        let html = escape_html(name);
        assert_eq!(html, "O&#x27;Brien &amp; &quot;Sons&quot; &lt;b&gt;");
        assert_eq!(
            text_of(&format!("<p title='{html}'>{html}</p>")),
            format!("{name}\n")
        );
        assert_eq!(
            text_to_html("Hi <you>,\n\nline one\nline 'two'"),
            "<p>Hi &lt;you&gt;,</p>\n<p>line one<br>line &#x27;two&#x27;</p>"
        );
    }

    #[test]
    fn variables_are_filled() {
        let v = Variables {
            invoice_numbers: vec!["INV-1".into(), "INV-2".into()],
            customer_name: "Acme".into(),
            total: "USD 10.30".into(),
            fee: "USD 0.30".into(),
            ..Variables::default()
        };
        assert_eq!(
            render(
                "$CUSTOMERNAME paid $TOTAL (fee $FEE) for $INVOICENUMBER; $UNKNOWN",
                &v
            ),
            "Acme paid USD 10.30 (fee USD 0.30) for INV-1, INV-2; $UNKNOWN"
        );
    }

    #[test]
    fn notification_address_is_to_and_the_rest_are_copied_once() {
        let (to, cc) = recipients(
            Some("ops@t.test"),
            Some("ap@c.test"),
            Some("cc@c.test"),
            Some("AP@c.test"),
        )
        .unwrap();
        assert_eq!(to, vec!["ops@t.test"]);
        assert_eq!(cc, vec!["ap@c.test", "cc@c.test"]);
        let (to, cc) = recipients(None, Some("ap@c.test"), None, Some("u@c.test")).unwrap();
        assert_eq!(
            (to, cc),
            (vec!["ap@c.test".to_string()], vec!["u@c.test".to_string()])
        );
        assert_eq!(recipients(None, None, None, None), None);
    }
}
