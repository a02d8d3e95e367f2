//! What the pages' payment script (`static/paydesk.js`) asks of agents' and payers' pages alike:
//! start a new-card payment, its SetupIntent for Stripe.js to enter the card into.

use axum::response::Response;
use serde_json::json;

use super::{PageError, Viewer, blocking, json_result};
use crate::runtime::bindings::Initiator;
use crate::web::AppState;

/// Start paying `invoices` with a new card as `initiator`, for the script: the intent, the
/// SetupIntent's client secret and the amount.
pub async fn start_new_card(
    state: &AppState,
    viewer: Viewer,
    invoices: Vec<i64>,
    initiator: Initiator,
) -> Result<Response, PageError> {
    json_result(
        blocking(state, move |app| {
            let p = app.start_new_card(&viewer.tenant, invoices, initiator)?;
            Ok(json!({"intent_id": p.intent_id, "setup_client_secret": p.setup_client_secret, "amount": p.amount}))
        })
        .await,
    )
}
