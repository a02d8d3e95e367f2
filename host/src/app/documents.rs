//! An invoice as a document, for the API (HTML) and the pages (a one-page PDF): the invoice's
//! fields and lines in a template with `$-PAYMENTMETHOD`, which the plugin renders for the
//! invoice's customer. The PDF is written with pdf-writer in the standard Helvetica font (WinAnsi
//! text, so any PDF reader and `pdftotext` read it back).

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

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
        Ok(render_pdf(
            &rendered.lines().map(str::to_string).collect::<Vec<_>>(),
        ))
    }
}

/// Text as WinAnsi bytes for the standard fonts; characters it lacks become `?`.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            ' '..='~' => c as u8,
            '\u{a0}'..='\u{ff}' => c as u32 as u8,
            '\u{2013}' | '\u{2014}' => b'-',
            '\u{2026}' => b'.',
            _ => b'?',
        })
        .collect()
}

/// A one-page PDF of `lines` of text.
fn render_pdf(lines: &[String]) -> Vec<u8> {
    let (catalog, tree, page_id, font, contents) = (
        Ref::new(1),
        Ref::new(2),
        Ref::new(3),
        Ref::new(4),
        Ref::new(5),
    );
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page_id]).count(1);
    let mut page = pdf.page(page_id);
    page.media_box(Rect::new(0.0, 0.0, 595.0, 842.0));
    page.parent(tree);
    page.contents(contents);
    page.resources().fonts().pair(Name(b"F1"), font);
    page.finish();
    pdf.type1_font(font)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    let mut content = Content::new();
    content.begin_text();
    content.set_font(Name(b"F1"), 11.0);
    content.set_leading(16.0);
    content.next_line(56.0, 780.0);
    for line in lines.iter().take(44) {
        content.show(Str(&win_ansi(line)));
        content.next_line_using_leading();
    }
    content.end_text();
    pdf.stream(contents, &content.finish());
    pdf.finish()
}
