//! `/settings`: read (secrets masked) and change (merge of the fields sent; validated by the plugin,
//! a new secret key tried against Stripe first; all or nothing) the tenant's integration settings;
//! test the connection.

use axum::Json;
use axum::extract::State;

use super::extract::JsonBody;
use serde::Serialize;
use serde_json::Value;

use super::caller::Caller;
use crate::app::SettingsSave;
use crate::settings::TenantSettings;
use crate::tenant::Secret;
use crate::web::error::{ApiError, FieldProblem};
use crate::web::state::{AppState, blocking};

/// The settings as the API shows them: every setting, and the secrets masked.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SettingsView {
    #[serde(flatten)]
    pub settings: TenantSettings,
    /// The secret key, masked (`sk_test_…4242`); never the key.
    pub stripe_secret_key: Option<String>,
    /// The webhook signing secret, masked.
    pub webhook_signing_secret: Option<String>,
}

fn view(app: &crate::app::App, tenant: &crate::tenant::TenantId) -> Result<SettingsView, ApiError> {
    let record = app.db().tenant(tenant)?;
    Ok(SettingsView {
        settings: record.settings,
        stripe_secret_key: app.db().secret_key(tenant)?.map(|k| k.masked()),
        webhook_signing_secret: app.db().webhook_secret(tenant)?.map(|k| k.masked()),
    })
}

/// Read the settings.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/settings", tag = "settings",
    params(("tenant" = String, Path, description = "tenant id")),
    responses((status = 200, body = SettingsView), (status = 401, body = crate::web::error::ErrorBody), (status = 403, body = crate::web::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_settings(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<SettingsView>, ApiError> {
    caller.admin()?;
    let tenant = caller.tenant.clone();
    blocking(&state, move |app| view(app, &tenant))
        .await
        .map(Json)
}

/// Change settings: the fields sent replace the stored ones, the rest stay. `stripe_secret_key` is
/// write-only. Every bad field is named (422) and nothing is stored.
#[utoipa::path(patch, path = "/api/v1/tenants/{tenant}/settings", tag = "settings",
    params(("tenant" = String, Path, description = "tenant id")),
    request_body(content = Object, description = "any settings fields (see SettingsView), plus `stripe_secret_key`"),
    responses((status = 200, body = SettingsView), (status = 422, body = crate::web::error::ErrorBody), (status = 403, body = crate::web::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch_settings(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<SettingsView>, ApiError> {
    caller.admin()?;
    let Value::Object(mut fields) = body else {
        return Err(ApiError::invalid(
            "send a JSON object of settings",
            Vec::new(),
        ));
    };
    let secret_key = match fields.remove("stripe_secret_key") {
        None | Some(Value::Null) => None,
        Some(Value::String(k)) if k.trim().is_empty() => None,
        Some(Value::String(k)) => Some(Secret::new(k.trim())),
        Some(_) => {
            return Err(ApiError::invalid(
                "the settings were not saved; see the fields",
                vec![FieldProblem {
                    field: "stripe_secret_key".into(),
                    message: "must be a string".into(),
                }],
            ));
        }
    };
    let tenant = caller.tenant.clone();
    blocking(&state, move |app| {
        let stored = app.db().tenant(&tenant)?.settings;
        let mut merged =
            serde_json::to_value(&stored).map_err(|e| ApiError::internal(e.to_string()))?;
        let known = merged
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default();
        let unknown: Vec<FieldProblem> = fields
            .keys()
            .filter(|k| !known.contains(k))
            .map(|k| FieldProblem {
                field: k.clone(),
                message: "not a setting of the Stripe integration".into(),
            })
            .collect();
        if !unknown.is_empty() {
            return Err(ApiError::invalid(
                "the settings were not saved; see the fields",
                unknown,
            ));
        }
        let mut problems = Vec::new();
        for (k, v) in fields {
            let mut probe = merged.clone();
            probe[&k] = v.clone();
            match serde_json::from_value::<TenantSettings>(probe) {
                Ok(_) => merged[&k] = v,
                Err(e) => problems.push(FieldProblem {
                    field: k,
                    message: format!("wrong type: {e}"),
                }),
            }
        }
        if !problems.is_empty() {
            return Err(ApiError::invalid(
                "the settings were not saved; see the fields",
                problems,
            ));
        }
        let settings: TenantSettings =
            serde_json::from_value(merged).map_err(|e| ApiError::internal(e.to_string()))?;
        app.save_settings(
            &tenant,
            SettingsSave {
                settings,
                secret_key,
            },
        )?;
        view(app, &tenant)
    })
    .await
    .map(Json)
}

/// What "Test connection" found.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectionView {
    pub ok: bool,
    pub livemode: bool,
}

/// Make a real call to Stripe with the stored key.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/settings/test-connection", tag = "settings",
    params(("tenant" = String, Path, description = "tenant id")),
    responses((status = 200, body = ConnectionView), (status = 409, body = crate::web::error::ErrorBody), (status = 502, body = crate::web::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn test_connection(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<ConnectionView>, ApiError> {
    caller.admin()?;
    let tenant = caller.tenant.clone();
    blocking(&state, move |app| {
        let summary = app.test_connection(&tenant, None)?;
        Ok(ConnectionView {
            ok: true,
            livemode: summary.livemode,
        })
    })
    .await
    .map(Json)
}
