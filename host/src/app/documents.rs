//! An invoice as a document, for the API (HTML) and the pages (a one-page PDF): the invoice's
//! fields and lines in a template with `$-PAYMENTMETHOD`, which the plugin renders for the
//! invoice's customer. The PDF's text is written by [`crate::pdf`], in embedded font subsets that
//! cover every script the fonts do.

use super::{App, CallError};
use crate::access::money;
use crate::contract::{Customer, Invoice};
use crate::tenant::TenantId;

/// The HTML document's template; `$-PAYMENTMETHOD` is rendered by the plugin.
const HTML: &str = "<!doctype html><html><head><meta charset=\"utf-8\"><title>Invoice $NUMBER</title></head><body>\
<h1>Invoice $NUMBER</h1><p>Issued $ISSUED, due $DUE</p><table>$LINES</table>\
<p>Amount due: $AMOUNTDUE</p><p>Payment method: $-PAYMENTMETHOD</p></body></html>";

/// The PDF's template; one line of text per entry.
const PDF_TEXT: &[&str] = &[
    "Invoice $NUMBER",
    "$CUSTOMER",
    "Issued $ISSUED, due $DUE",
    "",
    "$LINES",
    "",
    "Amount due: $AMOUNTDUE",
    "Payment method: $-PAYMENTMETHOD",
];

fn escape(s: &str) -> String {
    paydesk_plugin::domain::emails::escape_html(s)
}

impl App {
    /// The invoice as an HTML document, with the plugin's variables such as `$-PAYMENTMETHOD`
    /// filled in.
    pub fn invoice_html(&self, tenant: &TenantId, invoice: &Invoice) -> Result<String, CallError> {
        let lines: String = invoice
            .lines
            .iter()
            .map(|l| {
                format!(
                    "<tr><td>{}</td><td>{}</td></tr>",
                    escape(&l.description),
                    money(l.amount, &invoice.currency)
                )
            })
            .collect();
        let filled = HTML
            .replace("$NUMBER", &escape(&invoice.number))
            .replace("$ISSUED", &invoice.issue_date)
            .replace("$DUE", &invoice.due_date)
            .replace("$LINES", &lines)
            .replace("$AMOUNTDUE", &money(invoice.amount_due, &invoice.currency));
        self.render_plugin_variables(tenant, invoice.customer_id, &filled, true)
    }

    /// The invoice of `customer` as a one-page PDF, with the plugin's variables filled in.
    pub fn invoice_pdf(
        &self,
        tenant: &TenantId,
        invoice: &Invoice,
        customer: &Customer,
    ) -> Result<Vec<u8>, CallError> {
        let lines: Vec<String> = invoice
            .lines
            .iter()
            .map(|l| {
                format!(
                    "{}    {}",
                    l.description,
                    money(l.amount, &invoice.currency)
                )
            })
            .collect();
        let text = PDF_TEXT
            .join("\n")
            .replace("$NUMBER", &invoice.number)
            .replace("$CUSTOMER", &customer.name)
            .replace("$ISSUED", &invoice.issue_date)
            .replace("$DUE", &invoice.due_date)
            .replace("$LINES", &lines.join("\n"))
            .replace("$AMOUNTDUE", &money(invoice.amount_due, &invoice.currency));
        let rendered = self.render_plugin_variables(tenant, invoice.customer_id, &text, false)?;
        Ok(crate::pdf::document(
            &rendered.lines().map(str::to_string).collect::<Vec<_>>(),
        ))
    }
}
