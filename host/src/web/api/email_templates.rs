//! `/email-templates`: the email templates (264 "Stripe Payment Confirmation", 285
//! "Stripe Payment Failure", 286 "Stripe Card Expiring", 287 "Stripe Refund Confirmation"), read
//! and changed by administrators.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::caller::Caller;
use super::extract::{IdPath, JsonBody, Path};
use crate::contract::EmailTemplate;
use crate::web::error::{ApiError, ErrorBody, FieldProblem};
use crate::web::state::{AppState, blocking};

/// An email template (264 "Stripe Payment Confirmation", 285 "Stripe Payment Failure", 286
/// "Stripe Card Expiring", 287 "Stripe Refund Confirmation").
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateView {
    /// 264, 285, 286 or 287 (ignored when sent: the path names the template).
    #[serde(default)]
    pub id: u32,
    #[schema(max_length = 200)]
    pub name: String,
    /// Variables: `$INVOICENUMBER`, `$CUSTOMERNAME`, `$AMOUNT`, `$FEE`, `$TOTAL`, `$PAYMENTMETHOD`,
    /// `$FAILUREREASON`, `$PORTALLINK`; 286 has `$CUSTOMERNAME`, `$PAYMENTMETHOD`, `$EXPIRY`
    /// (`MM/YYYY`) and `$PORTALLINK`; in 287 `$TOTAL` is what was refunded, `$FEE` its processing
    /// fee part and `$AMOUNT` the rest. Not only white space.
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

impl From<EmailTemplate> for TemplateView {
    fn from(t: EmailTemplate) -> Self {
        TemplateView {
            id: t.id,
            name: t.name,
            subject: t.subject,
            body: t.body,
        }
    }
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
        Ok(t.into())
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
        Ok(t.into())
    })
    .await
    .map(Json)
}
