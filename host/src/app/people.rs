//! What an administrator does to a person of the tenant, agent or portal user, from the API and
//! the pages alike: disable them (their sessions end and their API tokens stop at once), enable
//! them again (what ended stays ended), or remove them with their sessions and tokens — never to
//! themselves, so the administrator who acts is never locked out by their own hand.

use super::App;
use crate::db::{DbError, Person};
use crate::tenant::TenantId;

/// What is done to a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonChange {
    Disable,
    Enable,
    Remove,
}

/// Why a person was not changed.
#[derive(Debug, thiserror::Error)]
pub enum PersonChangeError {
    /// The administrator named themselves (enabling oneself is allowed: it changes nothing).
    #[error("an administrator cannot disable or remove themselves")]
    Yourself,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl App {
    /// Apply `change` to `person`, as administrator `by_agent` asks.
    pub fn change_person(
        &self,
        tenant: &TenantId,
        person: Person,
        change: PersonChange,
        by_agent: i64,
    ) -> Result<(), PersonChangeError> {
        if person == Person::Agent(by_agent) && change != PersonChange::Enable {
            return Err(PersonChangeError::Yourself);
        }
        match change {
            PersonChange::Disable => self.db().set_disabled(tenant, person, true)?,
            PersonChange::Enable => self.db().set_disabled(tenant, person, false)?,
            PersonChange::Remove => self.db().remove_person(tenant, person)?,
        }
        tracing::info!(tenant = %tenant, person = ?person, change = ?change, by_agent, "person changed");
        Ok(())
    }
}
