//! `/app/setup/mappings`: add and remove a customer's mapping to a Stripe customer, and "Generate
//! mappings" by name with a report of what it did, on the setup page.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;

use super::error::PageError;
use super::respond::{finish, told};
use super::session::Viewer;
use super::setup::{SETUP, SetupExtras, setup_again};
use crate::web::state::AppState;

pub async fn add_mapping(
    State(state): State<AppState>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, PageError> {
    viewer.admin()?;
    let form = viewer.form(&body)?;
    let customer: i64 = form
        .field("customer_id")
        .and_then(|v| v.parse().ok())
        .ok_or_else(PageError::not_found)?;
    let stripe_id = form.text("stripe_customer_id").unwrap_or_default();
    finish(&state, viewer, SETUP, move |app, viewer| {
        Ok(told(
            app.add_mapping(&viewer.tenant, customer, &stripe_id),
            "Mapping not added",
            |()| "Mapping added.",
        ))
    })
    .await
}

pub async fn remove_mapping(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, PageError> {
    viewer.admin()?;
    viewer.form(&body)?;
    finish(&state, viewer, SETUP, move |app, viewer| {
        app.remove_mapping(&viewer.tenant, id)?;
        Ok("Mapping removed.".into())
    })
    .await
}

pub async fn generate_mappings(
    State(state): State<AppState>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, PageError> {
    viewer.admin()?;
    viewer.form(&body)?;
    setup_again(&state, viewer, |app, viewer| {
        let r = app.generate_mappings(&viewer.tenant)?;
        let mut report: Vec<String> = r
            .mapped
            .iter()
            .map(|m| format!("Mapped {} to {}", m.customer_name, m.stripe_customer_id))
            .collect();
        use crate::contract::exports::paydesk::stripe::admin::SkipReason;
        report.extend(r.skipped.iter().map(|s| {
            let why = match s.reason {
                SkipReason::NoMatch => "no Stripe customer has exactly this name".to_string(),
                SkipReason::SeveralInStripe => format!(
                    "several Stripe customers have this name ({})",
                    s.stripe_customer_ids.join(", ")
                ),
                SkipReason::SeveralInHelpdesk => {
                    "several customers here have this name".to_string()
                }
                SkipReason::StripeCustomerTaken => {
                    "the Stripe customer is mapped to someone else".to_string()
                }
            };
            format!("Skipped {}: {why}", s.customer_name)
        }));
        let flash = format!(
            "{} mapped, {} skipped, {} already mapped; {} Stripe customers read.",
            r.mapped.len(),
            r.skipped.len(),
            r.already_mapped,
            r.stripe_customers_seen
        );
        Ok(SetupExtras {
            flash,
            report,
            ..Default::default()
        })
    })
    .await
}
