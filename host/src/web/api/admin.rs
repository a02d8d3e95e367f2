//! Administration: "Save and Create/Update Webhooks in Stripe", the payment email templates,
//! portal users and their API tokens, and reconciling stuck payments now.

use axum::Json;
use axum::extract::State;

use super::extract::{JsonBody, Path};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{IdPath, blocking};
use crate::db::{NewUser, Principal, access_level_name};
use crate::runtime::bindings::{EmailTemplate, InvoiceAccessLevel};
use crate::web::AppState;
use crate::web::auth::Caller;
use crate::web::error::{ApiError, ErrorBody, FieldProblem};

/// Where Stripe should send events; defaults to this server's public URL.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// An http(s) URL; default this server's `PAYDESK_PUBLIC_URL` + `/webhooks/stripe/{tenant}`.
    #[schema(
        max_length = 2000,
        pattern = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[!-~]*)?$"
    )]
    pub url: Option<String>,
}

/// The endpoint in Stripe.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub enabled_events: Vec<String>,
    /// True when this call created it (and its signing secret was stored).
    pub created: bool,
}

/// "Save and Create/Update Webhooks in Stripe": create or update the tenant's endpoint for the five
/// payment events; the signing secret is kept by the server, never returned.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/webhooks/stripe-endpoint", tag = "settings",
    params(("tenant" = String, Path)), request_body = WebhookInput,
    responses((status = 200, body = WebhookView), (status = 409, body = ErrorBody), (status = 502, body = ErrorBody)), security(("bearer" = [])))]
pub async fn ensure_webhooks(
    State(state): State<AppState>,
    caller: Caller,
    body: Option<JsonBody<WebhookInput>>,
) -> Result<Json<WebhookView>, ApiError> {
    caller.admin()?;
    let tenant = caller.tenant.clone();
    let input = body.map(|JsonBody(b)| b).unwrap_or_default();
    if let Some(url) = &input.url {
        super::checks::http_url("url", url)?;
    }
    blocking(&state, move |app| {
        let url = match input.url.or_else(|| app.public_url.as_ref().map(|base| format!("{}/webhooks/stripe/{tenant}", base.trim_end_matches('/')))) {
            Some(u) => u,
            None => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "not_configured",
                    "the server does not know its public URL: start it with PAYDESK_PUBLIC_URL, or send `url`",
                ));
            }
        };
        let e = app.ensure_webhooks(&tenant, &url)?;
        Ok(WebhookView { id: e.id, url: e.url, enabled_events: e.enabled_events, created: e.created })
    })
    .await
    .map(Json)
}

/// An email template (264 "Stripe Payment Confirmation", 285 "Stripe Payment Failure").
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateView {
    /// 264 or 285 (ignored when sent: the path names the template).
    #[serde(default)]
    pub id: u32,
    #[schema(max_length = 200)]
    pub name: String,
    /// Variables: `$INVOICENUMBER`, `$CUSTOMERNAME`, `$AMOUNT`, `$FEE`, `$TOTAL`, `$PAYMENTMETHOD`,
    /// `$FAILUREREASON`, `$PORTALLINK`. Not only white space.
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"[^\s\u001c-\u001f\u0085\ufeff]"
    )]
    pub subject: String,
    /// HTML, with the same variables. Not only white space.
    #[schema(
        min_length = 1,
        max_length = 100000,
        pattern = r"[^\s\u001c-\u001f\u0085\ufeff]"
    )]
    pub body: String,
}

/// Read an email template.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/email-templates/{id}", tag = "settings",
    params(("tenant" = String, Path), ("id" = u32, Path)),
    responses((status = 200, body = TemplateView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_template(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<IdPath>,
) -> Result<Json<TemplateView>, ApiError> {
    caller.admin()?;
    let tenant = caller.tenant.clone();
    let id = u32::try_from(path.id).map_err(|_| ApiError::not_found("email template"))?;
    blocking(&state, move |app| {
        let t = app.db().email_template(&tenant, id)?;
        Ok(TemplateView {
            id: t.id,
            name: t.name,
            subject: t.subject,
            body: t.body,
        })
    })
    .await
    .map(Json)
}

/// Change an email template.
#[utoipa::path(put, path = "/api/v1/tenants/{tenant}/email-templates/{id}", tag = "settings",
    params(("tenant" = String, Path), ("id" = u32, Path)), request_body = TemplateView,
    responses((status = 200, body = TemplateView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn put_template(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<IdPath>,
    JsonBody(input): JsonBody<TemplateView>,
) -> Result<Json<TemplateView>, ApiError> {
    caller.admin()?;
    let tenant = caller.tenant.clone();
    let id = u32::try_from(path.id).map_err(|_| ApiError::not_found("email template"))?;
    let problems: Vec<FieldProblem> = [
        (
            "name",
            if input.name.chars().count() > 200 {
                Err("at most 200 characters".to_string())
            } else {
                Ok(())
            },
        ),
        ("subject", super::checks::text(&input.subject, 500)),
        ("body", super::checks::text(&input.body, 100_000)),
    ]
    .into_iter()
    .filter_map(|(field, r)| {
        r.err().map(|message| FieldProblem {
            field: field.into(),
            message,
        })
    })
    .collect();
    if !problems.is_empty() {
        return Err(ApiError::invalid(
            "the template was not saved; see the fields",
            problems,
        ));
    }
    blocking(&state, move |app| {
        let t = EmailTemplate {
            id,
            name: input.name,
            subject: input.subject,
            body: input.body,
        };
        app.db().save_email_template(&tenant, &t)?;
        Ok(TemplateView {
            id: t.id,
            name: t.name,
            subject: t.subject,
            body: t.body,
        })
    })
    .await
    .map(Json)
}

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

fn access_level_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(["none", "own", "customer"]))
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
    let level = match input.invoice_access_level.as_str() {
        "none" => Some(InvoiceAccessLevel::None),
        "own" => Some(InvoiceAccessLevel::AddressedToUser),
        "customer" => Some(InvoiceAccessLevel::Customer),
        other => {
            problems.push(FieldProblem {
                field: "invoice_access_level".into(),
                message: format!("`{other}`: use none, own or customer"),
            });
            None
        }
    };
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
                invoice_access_level: access_level_name(u.invoice_access_level),
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

/// What a reconciliation pass did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReconcileView {
    pub checked: u32,
    pub updated: u32,
}

/// Re-read from Stripe the payments stuck in `processing` / `requires_action` longer than
/// `reconcile_after_minutes` (the daily run does this too).
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/payments/reconcile", tag = "payments",
    params(("tenant" = String, Path)), responses((status = 200, body = ReconcileView)), security(("bearer" = [])))]
pub async fn reconcile(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<ReconcileView>, ApiError> {
    caller.admin()?;
    let tenant = caller.tenant.clone();
    blocking(&state, move |app| {
        let r = app.reconcile(&tenant, crate::db::now())?;
        Ok(ReconcileView {
            checked: r.checked,
            updated: r.updated,
        })
    })
    .await
    .map(Json)
}
