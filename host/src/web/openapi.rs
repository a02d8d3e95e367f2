//! The OpenAPI document of the JSON API, generated from the handlers' annotations and served at
//! `/api/openapi.json`.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::api::{admin, autopay, customers, invoices, settings};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "an API token (`pdk_…`) of an agent or portal user of the tenant",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "paydesk", description = "Stripe payments for helpdesk invoices: the reference host's JSON API."),
    paths(
        super::healthz,
        settings::get_settings,
        settings::patch_settings,
        settings::test_connection,
        customers::list,
        customers::get_one,
        customers::create,
        customers::update,
        customers::payment_methods,
        customers::set_automatic_payment_method,
        customers::mappings,
        customers::add_mapping,
        customers::remove_mapping,
        customers::generate_mappings,
        customers::stripe_customers,
        invoices::create,
        invoices::list,
        invoices::get_one,
        invoices::quote,
        invoices::pay,
        invoices::refresh,
        admin::ensure_webhooks,
        admin::get_template,
        admin::put_template,
        admin::create_user,
        admin::create_user_token,
        admin::reconcile,
        autopay::create_recurring,
        autopay::list_recurring,
        autopay::run,
        autopay::status,
        autopay::audit,
        invoices::document,
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// `GET /api/openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
