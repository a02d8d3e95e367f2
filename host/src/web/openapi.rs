//! The OpenAPI document of the JSON API, generated from the handlers' annotations and served at
//! `/api/openapi.json`: every constraint the server enforces on a parameter or field is in it, and
//! every error answer a route can give (the common ones are added here to every operation), so a
//! request valid by the document is accepted and one that is not is refused in the documented shape.
//! Stripe's minimum charges are written into the quote and pay routes from the plugin's table.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::api::{
    agents, autopay, charges, customers, email_templates, invoices, mappings, payments,
    recurring_invoices, refunds, settings, setup, tokens, users, webhook_endpoint,
};

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

/// The error answers every route of the tenant API can give, documented on each operation that
/// does not describe them itself: they come from authentication, the tenant in the path, parameter
/// and body parsing, all in the one error shape (`ErrorBody`).
struct CommonErrors;

impl CommonErrors {
    const EVERY_ROUTE: [(&'static str, &'static str); 6] = [
        (
            "400",
            "a path or query parameter does not parse (`bad_request`; the field is named)",
        ),
        ("401", "no valid API token (`unauthorized`)"),
        (
            "403",
            "the token's agent or user may not do this (`forbidden`)",
        ),
        (
            "404",
            "no such tenant for this token, or no such record (`not_found`)",
        ),
        (
            "409",
            "the Stripe integration is not set up for this, or the record's state does not allow it (`not_configured`, `conflict`)",
        ),
        (
            "429",
            "the tenant already has its limit of plugin calls running on this host (`busy`); try again shortly",
        ),
    ];
    const WITH_A_BODY: [(&'static str, &'static str); 3] = [
        (
            "413",
            "the body is larger than the API accepts (`payload_too_large`)",
        ),
        (
            "415",
            "the body is not `application/json` (`unsupported_media_type`)",
        ),
        (
            "422",
            "the body is JSON of another shape, or a field's value is refused (`invalid_input`; every bad field is named)",
        ),
    ];
}

fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/api/") {
                continue;
            }
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                let with_body = operation.request_body.is_some();
                let common = Self::EVERY_ROUTE.iter().chain(
                    with_body
                        .then_some(&Self::WITH_A_BODY)
                        .into_iter()
                        .flatten(),
                );
                for (status, description) in common {
                    operation
                        .responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| RefOr::T(error_response(description)));
                }
            }
        }
    }
}

/// Stripe's minimum charge per currency, from the plugin's one table, in the descriptions of the
/// routes that hold a charge against it (quote and pay).
struct StripeLimits;

impl Modify for StripeLimits {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let table = format!(
            "Stripe's minimum charge per currency: {}.",
            paydesk_plugin::domain::limits::minimum_charges_text()
        );
        for path in [
            "/api/v1/tenants/{tenant}/payments/quote",
            "/api/v1/tenants/{tenant}/payments",
            "/api/v1/tenants/{tenant}/invoices/{id}/charges/quote",
            "/api/v1/tenants/{tenant}/invoices/{id}/charges",
        ] {
            if let Some(post) = openapi
                .paths
                .paths
                .get_mut(path)
                .and_then(|item| item.post.as_mut())
            {
                let description = post.description.get_or_insert_with(String::new);
                if !description.is_empty() {
                    description.push_str("\n\n");
                }
                description.push_str(&table);
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "paydesk", description = "Stripe payments for helpdesk invoices: the reference host's JSON API."),
    paths(
        super::health::healthz,
        settings::get_settings,
        settings::patch_settings,
        settings::test_connection,
        customers::list,
        customers::get_one,
        customers::create,
        customers::update,
        customers::payment_methods,
        customers::set_automatic_payment_method,
        customers::set_autopay_cap,
        customers::expiring_card,
        setup::start,
        setup::confirm,
        mappings::mappings,
        mappings::add_mapping,
        mappings::remove_mapping,
        mappings::generate_mappings,
        mappings::stripe_customers,
        invoices::create,
        invoices::list,
        invoices::get_one,
        payments::quote,
        payments::pay,
        charges::quote,
        charges::charge,
        refunds::quote,
        refunds::refund,
        refunds::retry,
        payments::refresh,
        webhook_endpoint::ensure_webhooks,
        email_templates::get_template,
        email_templates::put_template,
        users::create_user,
        users::create_user_token,
        payments::reconcile,
        recurring_invoices::create_recurring,
        recurring_invoices::list_recurring,
        autopay::run,
        autopay::status,
        autopay::audit,
        invoices::document,
        tokens::list_tokens,
        tokens::revoke_token,
        agents::remove_agent,
        agents::disable_agent,
        agents::enable_agent,
        users::remove_user,
        users::disable_user,
        users::enable_user,
    ),
    components(schemas(crate::web::error::ErrorBody)),
    modifiers(&BearerAuth, &CommonErrors, &StripeLimits)
)]
pub struct ApiDoc;

/// `GET /api/openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
