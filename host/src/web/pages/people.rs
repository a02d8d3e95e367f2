//! `/app/people`, people, for administrators: agents' permissions and portal users' "Invoice Access Level";
//! disabling a person (their sessions end and their API tokens stop working at once), enabling
//! them again, removing them; and every API token of the tenant, with its expiry and last use,
//! revocable here. An administrator cannot disable, remove or demote themselves.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;

use super::error::PageError;
use super::respond::{Flash, finish, page};
use super::session::Viewer;
use super::words::when;
use crate::app::people::{PersonChange, PersonChangeError};
use crate::db::Person;
use crate::web::state::AppState;
use paydesk_plugin::domain::vocabulary;

/// The people page, where its forms go back to.
const PEOPLE: &str = "/app/people";

/// A token row: id, owner, label, created, expires, state (active / revoked / expired), last used.
pub type TokenRow = (i64, String, String, String, String, String, String);

#[derive(Template)]
#[template(path = "people.html")]
struct PeoplePage {
    flash: String,
    csrf: String,
    is_admin: bool,
    /// id, name and email, can receive, admin, disabled, can refund.
    agents: Vec<(i64, String, bool, bool, bool, bool)>,
    /// id, name and email, customer, access level, disabled.
    users: Vec<(i64, String, String, &'static str, bool)>,
    tokens: Vec<TokenRow>,
}

pub async fn people(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(flash): Query<Flash>,
) -> Result<Response, PageError> {
    viewer.admin()?;
    page(&state, move |app| {
        let customers = app.db().customers(&viewer.tenant, None, 1000)?;
        let disabled = app.db().disabled_people(&viewer.tenant)?;
        let now = crate::db::now();
        let tokens = app
            .db()
            .tokens(&viewer.tenant)?
            .into_iter()
            .map(|t| {
                let state = match (t.revoked_at, t.expires_at) {
                    (Some(r), _) => format!("revoked {}", when(Some(r), "")),
                    (None, Some(e)) if e <= now => "expired".to_string(),
                    _ => "active".to_string(),
                };
                (
                    t.id,
                    format!("{} {}", t.owner.kind(), t.owner_email),
                    t.label,
                    when(Some(t.created_at), "-"),
                    when(t.expires_at, "never"),
                    state,
                    when(t.last_used_at, "never"),
                )
            })
            .collect();
        let name = |id: i64| {
            customers
                .iter()
                .find(|c| c.id == id)
                .map(|c| c.name.clone())
                .unwrap_or_default()
        };
        Ok(PeoplePage {
            flash: flash.text(app, &viewer),
            csrf: viewer.csrf.clone(),
            is_admin: true,
            agents: app
                .db()
                .agents(&viewer.tenant)?
                .into_iter()
                .map(|a| {
                    Ok((
                        a.id,
                        format!("{} <{}>", a.name, a.email),
                        a.can_receive_manual_stripe_payments,
                        a.is_admin,
                        disabled.contains(&Person::Agent(a.id)),
                        app.db().can_refund(&viewer.tenant, a.id)?,
                    ))
                })
                .collect::<Result<_, crate::db::DbError>>()?,
            users: app
                .db()
                .users(&viewer.tenant)?
                .into_iter()
                .map(|u| {
                    (
                        u.id,
                        format!("{} <{}>", u.name, u.email),
                        name(u.customer_id),
                        vocabulary::InvoiceAccessLevel::from(u.invoice_access_level).wire_name(),
                        disabled.contains(&Person::User(u.id)),
                    )
                })
                .collect(),
            tokens,
        })
    })
    .await
}

pub async fn save_agent(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, PageError> {
    let me = viewer.admin()?.id;
    let form = viewer.form(&body)?;
    let (can_receive, is_admin, can_refund) = (
        form.on("can_receive"),
        form.on("is_admin"),
        form.on("can_refund"),
    );
    finish(&state, viewer, PEOPLE, move |app, viewer| {
        if id == me && !is_admin {
            return Ok("You can't take away your own administrator rights.".into());
        }
        app.db()
            .set_agent_permissions(&viewer.tenant, id, can_receive, is_admin)?;
        app.db().set_can_refund(&viewer.tenant, id, can_refund)?;
        Ok("Agent saved.".into())
    })
    .await
}

pub async fn save_user(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, PageError> {
    viewer.admin()?;
    let form = viewer.form(&body)?;
    let level = form
        .field("level")
        .and_then(vocabulary::InvoiceAccessLevel::from_wire_name)
        .unwrap_or(vocabulary::InvoiceAccessLevel::None)
        .into();
    finish(&state, viewer, PEOPLE, move |app, viewer| {
        app.db().set_invoice_access(&viewer.tenant, id, level)?;
        Ok("User saved.".into())
    })
    .await
}

/// Disable, enable or remove a person ([`crate::app::App::change_person`]), and say what it did.
async fn change(
    state: AppState,
    viewer: Viewer,
    person: Person,
    change: PersonChange,
    body: Bytes,
) -> Result<Response, PageError> {
    let me = viewer.admin()?.id;
    viewer.form(&body)?;
    finish(&state, viewer, PEOPLE, move |app, viewer| {
        match app.change_person(&viewer.tenant, person, change, me) {
            Ok(()) => {}
            Err(PersonChangeError::Yourself) => {
                return Ok("Not changed: you can't disable or remove yourself.".into());
            }
            Err(PersonChangeError::Db(e)) => return Err(e.into()),
        }
        let done = match change {
            PersonChange::Disable => {
                "disabled: their sessions ended and their API tokens no longer work"
            }
            PersonChange::Enable => "enabled again (their old sessions and tokens stay ended)",
            PersonChange::Remove => "removed, with their sessions and API tokens",
        };
        let who = match person {
            Person::Agent(id) => format!("Agent {id}"),
            Person::User(id) => format!("Portal user {id}"),
        };
        Ok(format!("{who} {done}.").into())
    })
    .await
}

pub async fn disable_agent(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    b: Bytes,
) -> Result<Response, PageError> {
    change(s, v, Person::Agent(id), PersonChange::Disable, b).await
}

pub async fn enable_agent(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    b: Bytes,
) -> Result<Response, PageError> {
    change(s, v, Person::Agent(id), PersonChange::Enable, b).await
}

pub async fn remove_agent(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    b: Bytes,
) -> Result<Response, PageError> {
    change(s, v, Person::Agent(id), PersonChange::Remove, b).await
}

pub async fn disable_user(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    b: Bytes,
) -> Result<Response, PageError> {
    change(s, v, Person::User(id), PersonChange::Disable, b).await
}

pub async fn enable_user(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    b: Bytes,
) -> Result<Response, PageError> {
    change(s, v, Person::User(id), PersonChange::Enable, b).await
}

pub async fn remove_user(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    b: Bytes,
) -> Result<Response, PageError> {
    change(s, v, Person::User(id), PersonChange::Remove, b).await
}

pub async fn revoke_token(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, PageError> {
    viewer.admin()?;
    viewer.form(&body)?;
    finish(&state, viewer, PEOPLE, move |app, viewer| {
        app.db().revoke_token(&viewer.tenant, id)?;
        tracing::info!(tenant = %viewer.tenant, token = id, "API token revoked");
        Ok(format!("Token {id} revoked.").into())
    })
    .await
}
