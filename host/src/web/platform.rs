//! `/api/v1/platform/plugins…`: the plugin registry for the platform's administrators — not for
//! tenants, whose tokens are never accepted here. The routes exist only when a platform token is
//! configured (`PAYDESK_PLATFORM_TOKEN`; otherwise 404, as if they did not exist) and want it as
//! `Authorization: Bearer …`, checked before the body is read (an upload is up to
//! [`MAX_COMPONENT_BYTES`]). The same operations as `paydesk plugin add | list | use`
//! ([`crate::app::plugins`]).
//!
//! - `GET  /api/v1/platform/plugins` — the versions, each with its tenants;
//! - `POST /api/v1/platform/plugins?version=NAME` — the component's bytes as the body
//!   (`application/wasm`); 201 with the stored version, 422 when it does not load here, 409 when
//!   its bytes or name are registered already;
//! - `POST /api/v1/platform/plugins/use` — `{"version": …, "tenants": [...]}` or `"all": true` or
//!   `"percent": "10"`; 200 with the move (or `{"moved": []}` when every tenant runs it already);
//! - `POST /api/v1/platform/plugins/rollback` — undo the latest move; 200 with it, 404 when there
//!   is none left to undo.

use axum::Json;
use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;

use super::api::extract::{JsonBody, Query};
use super::error::ApiError;
use super::state::{AppState, blocking};
use crate::app::plugins::{RegistryError, Selection};
use crate::tenant::TenantId;

/// The largest component an upload may carry.
pub const MAX_COMPONENT_BYTES: usize = 32 << 20;

/// The registry's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/platform/plugins", get(list).post(add))
        .route("/api/v1/platform/plugins/use", post(use_version))
        .route("/api/v1/platform/plugins/rollback", post(rollback))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_COMPONENT_BYTES))
}

/// A caller holding the platform token. Extracted from the headers alone, so a caller without
/// it is refused before any body is read.
pub struct PlatformAdmin;

impl FromRequestParts<AppState> for PlatformAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(token) = &state.platform_token else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no API route here; the platform API is off (set PAYDESK_PLATFORM_TOKEN)",
            ));
        };
        if super::metrics::authorized(&parts.headers, token) {
            Ok(PlatformAdmin)
        } else {
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "send the platform token as `Authorization: Bearer …`",
            ))
        }
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> ApiError {
        match e {
            RegistryError::Invalid(m) => ApiError::invalid(m, Vec::new()),
            RegistryError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            RegistryError::Db(e) => e.into(),
        }
    }
}

async fn list(_: PlatformAdmin, State(state): State<AppState>) -> Result<Response, ApiError> {
    let versions = blocking(&state, |app| app.plugin_versions().map_err(ApiError::from)).await?;
    Ok(Json(serde_json::json!({ "versions": versions })).into_response())
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AddQuery {
    version: Option<String>,
}

async fn add(
    _: PlatformAdmin,
    State(state): State<AppState>,
    Query(query): Query<AddQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    if body.is_empty() {
        return Err(ApiError::invalid(
            "send the component's bytes as the request body",
            Vec::new(),
        ));
    }
    let added = blocking(&state, move |app| {
        app.add_plugin(&body, query.version.as_deref())
            .map_err(ApiError::from)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "version": added.version,
            "sha256": added.sha256,
            "size": added.size,
            "contract_version": added.contract_version,
            "added_at": added.added_at,
        })),
    )
        .into_response())
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct UseBody {
    version: String,
    #[serde(default)]
    tenants: Vec<String>,
    #[serde(default)]
    all: bool,
    percent: Option<String>,
}

async fn use_version(
    _: PlatformAdmin,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<UseBody>,
) -> Result<Response, ApiError> {
    let chosen = usize::from(!body.tenants.is_empty())
        + usize::from(body.all)
        + usize::from(body.percent.is_some());
    if chosen != 1 {
        return Err(ApiError::invalid(
            "say which tenants move with exactly one of `tenants`, `all` or `percent`",
            Vec::new(),
        ));
    }
    let selection = if body.all {
        Selection::All
    } else if let Some(p) = &body.percent {
        Selection::percent(p)?
    } else {
        Selection::Tenants(
            body.tenants
                .iter()
                .map(|t| {
                    TenantId::parse(t).map_err(|e| ApiError::invalid(format!("`{t}`: {e}"), vec![]))
                })
                .collect::<Result<_, _>>()?,
        )
    };
    let version = body.version;
    let moved = blocking(&state, move |app| {
        app.use_plugin(&version, &selection).map_err(ApiError::from)
    })
    .await?;
    Ok(match moved {
        Some(report) => Json(report).into_response(),
        None => Json(serde_json::json!({ "moved": [] })).into_response(),
    })
}

async fn rollback(_: PlatformAdmin, State(state): State<AppState>) -> Result<Response, ApiError> {
    let undone = blocking(&state, |app| {
        app.roll_back_plugins().map_err(ApiError::from)
    })
    .await?;
    match undone {
        Some(report) => Ok(Json(report).into_response()),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "nothing to roll back: no move is left to undo",
        )),
    }
}
