//! Invoice PDFs (REQUIREMENTS M8) for agents and portal users: a one-page document from a text
//! template containing `$-PAYMENTMETHOD`, which the plugin renders for the invoice's customer.
//! Written with pdf-writer in the standard Helvetica font (WinAnsi text, so any PDF reader and
//! `pdftotext` read it back).

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

use super::{PageError, Viewer, blocking, money};
use crate::db::Principal;
use crate::runtime::bindings::Invoice;
use crate::web::AppState;

/// The invoice template; one line of text per entry.
const TEMPLATE: &[&str] = &[
    "Invoice $NUMBER",
    "$CUSTOMER",
    "Issued $ISSUED, due $DUE",
    "",
    "$LINES",
    "",
    "Amount due: $AMOUNTDUE",
    "Payment method: $-PAYMENTMETHOD",
];

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
pub fn render_pdf(lines: &[String]) -> Vec<u8> {
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

fn document(
    app: &crate::app::App,
    viewer: &Viewer,
    invoice: Invoice,
) -> Result<Vec<u8>, PageError> {
    let customer = app.db().customer(&viewer.tenant, invoice.customer_id)?;
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
    let text = TEMPLATE
        .join("\n")
        .replace("$NUMBER", &invoice.number)
        .replace("$CUSTOMER", &customer.name)
        .replace("$ISSUED", &invoice.issue_date)
        .replace("$DUE", &invoice.due_date)
        .replace("$LINES", &lines.join("\n"))
        .replace("$AMOUNTDUE", &money(invoice.amount_due, &invoice.currency));
    let rendered =
        app.render_plugin_variables(&viewer.tenant, invoice.customer_id, &text, false)?;
    Ok(render_pdf(
        &rendered.lines().map(str::to_string).collect::<Vec<_>>(),
    ))
}

fn pdf_response(number: &str, bytes: Vec<u8>) -> Response {
    let name: String = number
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"invoice-{name}.pdf\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

pub async fn agent_pdf(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    if !matches!(viewer.principal, Principal::Agent(_)) {
        return Err(PageError::forbidden("This page is for agents."));
    }
    let (number, bytes) = blocking(&state, move |app| {
        let invoice = app.db().invoice(&viewer.tenant, id)?;
        let number = invoice.number.clone();
        Ok((number, document(app, &viewer, invoice)?))
    })
    .await?;
    Ok(pdf_response(&number, bytes))
}

pub async fn portal_pdf(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let Principal::User(u) = viewer.principal.clone() else {
        return Err(PageError::forbidden("This is the customer portal."));
    };
    let (number, bytes) = blocking(&state, move |app| {
        let invoice = app.db().invoice(&viewer.tenant, id)?;
        let visible = crate::access::user_sees(&u, &invoice);
        if !visible {
            return Err(PageError::not_found());
        }
        let number = invoice.number.clone();
        Ok((number, document(app, &viewer, invoice)?))
    })
    .await?;
    Ok(pdf_response(&number, bytes))
}
