//! `/app/setup/autopay`: the daily run from the setup page, as a dry-run preview of its plan or run
//! for real.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;

use super::error::PageError;
use super::session::Viewer;
use super::setup::{SetupExtras, setup_again};
use super::words::money;
use crate::web::state::AppState;

pub async fn autopay(
    State(state): State<AppState>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, PageError> {
    viewer.admin()?;
    let form = viewer.form(&body)?;
    let dry = form.field("mode") != Some("run");
    setup_again(&state, viewer, move |app, viewer| {
        let report = app.run_autopay(&viewer.tenant, None, dry, &mut |_, _| {})?;
        let plan = report
            .plan
            .iter()
            .map(|d| {
                (
                    d.invoice_number.clone(),
                    if d.charge {
                        format!("charge (attempt {})", d.attempt)
                    } else {
                        "skip".into()
                    },
                    d.amount
                        .as_ref()
                        .map(|m| money(m.amount, &m.currency))
                        .unwrap_or_default(),
                    d.reason.clone(),
                )
            })
            .collect();
        let flash = if dry {
            format!("Dry run for {}: nothing was charged.", report.date)
        } else {
            let charged = report.results.iter().filter(|r| r.status.is_some()).count();
            format!(
                "Ran for {}: {charged} charge(s); {} error(s).",
                report.date,
                report.errors.len()
            )
        };
        Ok(SetupExtras {
            flash,
            plan: if dry { plan } else { Vec::new() },
            ..Default::default()
        })
    })
    .await
}
