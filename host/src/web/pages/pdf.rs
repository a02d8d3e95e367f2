//! Invoice PDFs (REQUIREMENTS M8), `/app/invoices/{id}/pdf` for agents and
//! `/portal/invoices/{id}/pdf` for portal users who may see the invoice: the document
//! ([`crate::app::App::invoice_pdf`]) as an inline download.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::error::PageError;
use super::session::Viewer;
use crate::contract::Invoice;
use crate::web::roles;
use crate::web::state::{AppState, blocking};

/// The invoice's PDF, with its number.
fn document(
    app: &crate::app::App,
    viewer: &Viewer,
    invoice: Invoice,
) -> Result<(String, Vec<u8>), PageError> {
    let customer = app.db().customer(&viewer.tenant, invoice.customer_id)?;
    let bytes = app.invoice_pdf(&viewer.tenant, &invoice, &customer)?;
    Ok((invoice.number, bytes))
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
    viewer.agent()?;
    let (number, bytes) = blocking(&state, move |app| {
        let invoice = app.db().invoice(&viewer.tenant, id)?;
        document(app, &viewer, invoice)
    })
    .await?;
    Ok(pdf_response(&number, bytes))
}

pub async fn portal_pdf(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    // Any portal user: one whose access level shows no invoice sees none of them (404).
    let u = roles::portal_user(&viewer.principal)?.clone();
    let (number, bytes) = blocking(&state, move |app| {
        let invoice = app.db().invoice(&viewer.tenant, id)?;
        let visible = crate::access::user_sees(&u, &invoice);
        if !visible {
            return Err(PageError::not_found());
        }
        document(app, &viewer, invoice)
    })
    .await?;
    Ok(pdf_response(&number, bytes))
}
