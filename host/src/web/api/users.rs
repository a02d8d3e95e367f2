//! `/users`: portal users, for administrators: create one, make an API token for one (shown once),
//! disable, enable or remove one.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::caller::Caller;
use super::extract::{IdPath, JsonBody, Path};
use super::people::change;
use crate::app::people::PersonChange;
use crate::contract::InvoiceAccessLevel;
use crate::db::{NewUser, Person, Principal};
use crate::web::error::{ApiError, ErrorBody, FieldProblem};
use crate::web::state::{AppState, blocking};
use paydesk_plugin::domain::vocabulary;

/// A new portal user.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    pub customer_id: i64,
    /// Not only white space.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"[^\s\u001c-\u001f\u0085\ufeff]"
    )]
    pub name: String,
    /// An email address with a dotted domain; unique in the tenant.
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// Which invoices the user sees and pays: none, their own, or all of their customer's.
    #[schema(schema_with = access_level_schema)]
    pub invoice_access_level: String,
}

/// The access levels' wire names, in the vocabulary's order (`none`, `own`, `customer`).
fn access_level_names() -> Vec<&'static str> {
    vocabulary::InvoiceAccessLevel::ALL
        .iter()
        .map(|l| l.wire_name())
        .collect()
}

fn access_level_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(access_level_names()))
        .build()
}

/// A portal user.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: i64,
    pub customer_id: i64,
    pub name: String,
    pub email: String,
    pub invoice_access_level: &'static str,
}

/// Create a portal user of a customer.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/users", tag = "users",
    params(("tenant" = String, Path)), request_body = UserInput,
    responses((status = 201, body = UserView), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(input): JsonBody<UserInput>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    caller.admin()?;
    let mut problems = Vec::new();
    let level = vocabulary::InvoiceAccessLevel::from_wire_name(&input.invoice_access_level)
        .map(InvoiceAccessLevel::from);
    if level.is_none() {
        problems.push(FieldProblem {
            field: "invoice_access_level".into(),
            message: format!(
                "`{}`: use {}",
                input.invoice_access_level,
                super::checks::one_of(&access_level_names())
            ),
        });
    }
    let (name, email) = (input.name.trim(), input.email.as_str());
    if let Err(message) = super::checks::text(&input.name, 200) {
        problems.push(FieldProblem {
            field: "name".into(),
            message,
        });
    }
    if let Err(message) = crate::addresses::check(email) {
        problems.push(FieldProblem {
            field: "email".into(),
            message,
        });
    }
    let Some(level) = level.filter(|_| problems.is_empty()) else {
        return Err(ApiError::invalid("the user was not created", problems));
    };
    let (name, email) = (name.to_string(), email.to_string());
    let tenant = caller.tenant.clone();
    blocking(&state, move |app| {
        let u = app.db().create_user(
            &tenant,
            &NewUser {
                customer_id: input.customer_id,
                name,
                email,
                invoice_access_level: level,
            },
        )?;
        Ok((
            StatusCode::CREATED,
            Json(UserView {
                id: u.id,
                customer_id: u.customer_id,
                name: u.name,
                email: u.email,
                invoice_access_level: vocabulary::InvoiceAccessLevel::from(u.invoice_access_level)
                    .wire_name(),
            }),
        ))
    })
    .await
}

/// A new API token, shown once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenView {
    pub token: String,
}

/// Make an API token for a portal user (shown once).
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/users/{id}/tokens", tag = "users",
    params(("tenant" = String, Path), ("id" = i64, Path)),
    responses((status = 201, body = TokenView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_user_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<IdPath>,
) -> Result<(StatusCode, Json<TokenView>), ApiError> {
    caller.admin()?;
    let tenant = caller.tenant.clone();
    blocking(&state, move |app| {
        let user = app.db().user(&tenant, path.id)?;
        let token = app
            .db()
            .create_token(&tenant, &Principal::User(user), "portal user")?;
        Ok((
            StatusCode::CREATED,
            Json(TokenView {
                token: token.expose().to_string(),
            }),
        ))
    })
    .await
}

/// Disable a portal user: their sessions end and their API tokens stop working at once.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/users/{id}/disable", tag = "users",
    params(("tenant" = String, Path), ("id" = i64, Path)),
    responses((status = 204, description = "disabled"), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn disable_user(
    State(s): State<AppState>,
    c: Caller,
    Path(p): Path<IdPath>,
) -> Result<StatusCode, ApiError> {
    change(s, c, Person::User(p.id), PersonChange::Disable).await
}

/// Enable a portal user again.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/users/{id}/enable", tag = "users",
    params(("tenant" = String, Path), ("id" = i64, Path)),
    responses((status = 204, description = "enabled"), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn enable_user(
    State(s): State<AppState>,
    c: Caller,
    Path(p): Path<IdPath>,
) -> Result<StatusCode, ApiError> {
    change(s, c, Person::User(p.id), PersonChange::Enable).await
}

/// Remove a portal user with their sessions and tokens; their invoices stay.
#[utoipa::path(delete, path = "/api/v1/tenants/{tenant}/users/{id}", tag = "users",
    params(("tenant" = String, Path), ("id" = i64, Path)),
    responses((status = 204, description = "removed"), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn remove_user(
    State(s): State<AppState>,
    c: Caller,
    Path(p): Path<IdPath>,
) -> Result<StatusCode, ApiError> {
    change(s, c, Person::User(p.id), PersonChange::Remove).await
}
