//! The OpenAPI document of the JSON API, generated from the handlers' annotations and served at
//! `/api/openapi.json`.

use axum::Json;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "paydesk",
        description = "Stripe payments for helpdesk invoices: the reference host's JSON API."
    ),
    paths(super::healthz)
)]
pub struct ApiDoc;

/// `GET /api/openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
