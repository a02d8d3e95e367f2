//! What an administrator does to a person, agent or portal user, over the API
//! ([`crate::app::App::change_person`]): 204 when it is done, 409 when they name themselves. The
//! routes are in `agents.rs` and `users.rs`.

use axum::http::StatusCode;

use super::caller::Caller;
use crate::app::people::{PersonChange, PersonChangeError};
use crate::db::Person;
use crate::web::error::ApiError;
use crate::web::state::{AppState, blocking};

/// Apply `change` to `person`, for the calling administrator.
pub async fn change(
    state: AppState,
    caller: Caller,
    person: Person,
    change: PersonChange,
) -> Result<StatusCode, ApiError> {
    let me = caller.admin()?.id;
    let tenant = caller.tenant.clone();
    blocking(&state, move |app| {
        match app.change_person(&tenant, person, change, me) {
            Ok(()) => Ok(StatusCode::NO_CONTENT),
            Err(PersonChangeError::Yourself) => Err(ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "you can't disable or remove yourself; ask another administrator",
            )),
            Err(PersonChangeError::Db(e)) => Err(e.into()),
        }
    })
    .await
}
