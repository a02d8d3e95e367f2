//! `/app`, the agents' dashboard: every invoice of the tenant with its customer, due date, amount due
//! and status, and the customers.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;

use super::error::PageError;
use super::respond::{Flash, page};
use super::session::Viewer;
use super::words::money;
use crate::contract::InvoiceFilter;
use crate::web::state::AppState;
use paydesk_plugin::domain::vocabulary;

pub struct InvoiceRow {
    pub id: i64,
    pub number: String,
    pub customer_id: i64,
    pub customer: String,
    pub due_date: String,
    pub amount_due: String,
    pub status: &'static str,
    pub status_label: &'static str,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    flash: String,
    csrf: String,
    is_admin: bool,
    invoices: Vec<InvoiceRow>,
    customers: Vec<(i64, String)>,
}

pub async fn dashboard(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(flash): Query<Flash>,
) -> Result<Response, PageError> {
    viewer.agent()?;
    page(&state, move |app| {
        let tenant = &viewer.tenant;
        let customers = app.db().customers(tenant, None, 1000)?;
        let name = |id: i64| {
            customers
                .iter()
                .find(|c| c.id == id)
                .map(|c| c.name.clone())
                .unwrap_or_default()
        };
        let filter = InvoiceFilter {
            customer_id: None,
            status: None,
            due_on_or_before: None,
            recurring_only: false,
            after_id: None,
            limit: 1000,
        };
        let invoices = app
            .db()
            .invoices(tenant, &filter)?
            .into_iter()
            .map(|i| InvoiceRow {
                id: i.id,
                customer: name(i.customer_id),
                customer_id: i.customer_id,
                number: i.number,
                due_date: i.due_date,
                amount_due: money(i.amount_due, &i.currency),
                status: vocabulary::InvoiceStatus::from(i.status).wire_name(),
                status_label: vocabulary::InvoiceStatus::from(i.status).label(),
            })
            .collect();
        Ok(Dashboard {
            flash: flash.text(app, &viewer),
            csrf: viewer.csrf.clone(),
            is_admin: viewer.is_admin(),
            invoices,
            customers: customers.into_iter().map(|c| (c.id, c.name)).collect(),
        })
    })
    .await
}
