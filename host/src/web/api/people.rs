//! What an administrator does to a person, agent or portal user, over the API: disable them (their
//! sessions end and their API tokens stop at once), enable them again, or remove them; never
//! themselves. The routes are in `agents.rs` and `users.rs`.

use axum::http::StatusCode;

use super::caller::Caller;
use crate::db::Person;
use crate::web::error::ApiError;
use crate::web::state::{AppState, blocking};

/// What is done to a person.
#[derive(Clone, Copy, Debug)]
pub enum Change {
    Disable,
    Enable,
    Remove,
}

pub async fn change(
    state: AppState,
    caller: Caller,
    person: Person,
    change: Change,
) -> Result<StatusCode, ApiError> {
    let me = caller.admin()?.id;
    if person == Person::Agent(me) && !matches!(change, Change::Enable) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "you can't disable or remove yourself; ask another administrator",
        ));
    }
    let tenant = caller.tenant.clone();
    blocking(&state, move |app| {
        match change {
            Change::Disable => app.db().set_disabled(&tenant, person, true)?,
            Change::Enable => app.db().set_disabled(&tenant, person, false)?,
            Change::Remove => app.db().remove_person(&tenant, person)?,
        }
        tracing::info!(tenant = %tenant, person = ?person, change = ?change, by_agent = me, "person changed");
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}
