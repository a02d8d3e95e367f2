//! Disputes of payments, the parts that are not the state machine (`payment_state` holds that):
//! how a disputed amount is shared among the payment records of one PaymentIntent, and the email
//! that tells the notification address a dispute was opened. Pure; amounts are minor units.

use super::emails::escape_html;
use super::money::{Currency, Money};
use super::vocabulary::DisputeStatus;

/// The disputed amount `disputed` shared among the records a charge paid, in their order: each
/// record's share is at most what it paid (`paid[i]`, its amount plus fee), the first ones taking
/// theirs in full. `None` when the dispute is negative or larger than everything they paid.
pub fn shares(disputed: i64, paid: &[i64]) -> Option<Vec<i64>> {
    if disputed < 0 || paid.iter().any(|p| *p < 0) {
        return None;
    }
    let mut left = disputed;
    let mut out = Vec::with_capacity(paid.len());
    for p in paid {
        let share = left.min(*p);
        out.push(share);
        left = left.checked_sub(share)?;
    }
    (left == 0).then_some(out)
}

/// A Stripe reason name in words (`product_not_received` → `product not received`).
pub fn reason_words(reason: &str) -> String {
    reason.replace('_', " ")
}

/// `YYYY-MM-DD HH:MM UTC` of a Unix instant.
pub fn utc(at: i64) -> String {
    let days = at.div_euclid(86_400);
    let secs = at.rem_euclid(86_400);
    format!(
        "{} {:02}:{:02} UTC",
        super::autopay::date_of(days),
        secs / 3600,
        (secs % 3600) / 60
    )
}

/// What the opening email says of one dispute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened<'a> {
    pub dispute_id: &'a str,
    pub status: Option<DisputeStatus>,
    pub reason: &'a str,
    pub amount: i64,
    pub currency: &'a str,
    pub evidence_due_by: Option<i64>,
    /// The invoice numbers the disputed payment paid.
    pub invoices: &'a [String],
    pub customer: &'a str,
}

fn amount(amount: i64, currency: &str) -> String {
    match Currency::parse(currency) {
        Ok(c) => Money::new(amount, c).to_string(),
        Err(_) => format!("{} {amount}", currency.to_ascii_uppercase()),
    }
}

/// The subject and HTML body of the email telling the notification address that `d` opened.
pub fn opened_email(d: &Opened<'_>) -> (String, String) {
    let inquiry = d.status.is_some_and(DisputeStatus::is_inquiry);
    let what = if inquiry { "inquiry" } else { "dispute" };
    let invoices = d.invoices.join(", ");
    let subject = format!(
        "Payment {what} opened on invoice {invoices}: {}",
        reason_words(d.reason)
    );
    let due = match d.evidence_due_by {
        Some(at) => format!("Respond in Stripe's dashboard by {}.", utc(at)),
        None => "Stripe asks for no evidence date.".to_string(),
    };
    let money = if inquiry {
        "No money has left yet; an inquiry that is not answered may become a dispute.".to_string()
    } else {
        "If it is lost, the invoice is awaiting payment again for the disputed amount, and it is not charged automatically again.".to_string()
    };
    let html = format!(
        "<p>The cardholder's bank opened a {what} ({}) of the payment of invoice {} of {}: {} disputed, reason: {}.</p><p>{}</p><p>{}</p>",
        escape_html(d.dispute_id),
        escape_html(&invoices),
        escape_html(d.customer),
        amount(d.amount, d.currency),
        escape_html(&reason_words(d.reason)),
        escape_html(&due),
        escape_html(&money),
    );
    (subject, html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dispute_of_one_invoice_is_all_its_own() {
        assert_eq!(shares(10_290, &[10_290]), Some(vec![10_290]));
        assert_eq!(shares(5_000, &[10_290]), Some(vec![5_000]));
        assert_eq!(shares(0, &[10_290]), Some(vec![0]));
    }

    #[test]
    fn a_dispute_of_a_pay_all_is_shared_in_order_up_to_what_each_paid() {
        assert_eq!(shares(1_500, &[1_000, 700, 300]), Some(vec![1_000, 500, 0]));
        assert_eq!(
            shares(2_000, &[1_000, 700, 300]),
            Some(vec![1_000, 700, 300])
        );
    }

    #[test]
    fn more_than_was_paid_or_a_negative_amount_has_no_shares() {
        assert_eq!(shares(2_001, &[1_000, 700, 300]), None);
        assert_eq!(shares(-1, &[1_000]), None);
        assert_eq!(shares(1, &[]), None);
        assert_eq!(
            shares(i64::MAX, &[i64::MAX, i64::MAX]),
            Some(vec![i64::MAX, 0])
        );
    }

    #[test]
    fn instants_are_shown_in_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_695_772_799), "2023-09-26 23:59 UTC");
    }

    #[test]
    fn the_opening_email_names_the_invoice_amount_reason_and_evidence_date() {
        let invoices = vec!["INV-0001".to_string()];
        let (subject, html) = opened_email(&Opened {
            dispute_id: "dp_1",
            status: Some(DisputeStatus::NeedsResponse),
            reason: "product_not_received",
            amount: 10_290,
            currency: "usd",
            evidence_due_by: Some(1_695_772_799),
            invoices: &invoices,
            customer: "Acme <Ltd>",
        });
        assert_eq!(
            subject,
            "Payment dispute opened on invoice INV-0001: product not received"
        );
        assert!(html.contains("USD 102.90 disputed"), "{html}");
        assert!(html.contains("by 2023-09-26 23:59 UTC"), "{html}");
        assert!(html.contains("Acme &lt;Ltd&gt;"), "{html}");
        let (subject, html) = opened_email(&Opened {
            status: Some(DisputeStatus::WarningNeedsResponse),
            evidence_due_by: None,
            ..Opened {
                dispute_id: "dp_2",
                status: None,
                reason: "general",
                amount: 100,
                currency: "usd",
                evidence_due_by: None,
                invoices: &invoices,
                customer: "Acme",
            }
        });
        assert!(subject.starts_with("Payment inquiry opened"), "{subject}");
        assert!(html.contains("No money has left yet"), "{html}");
    }
}
