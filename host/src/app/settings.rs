//! Saving a tenant's settings: validated by the plugin (every field), the time zone and the
//! notification address (`crate::addresses`) by the host,
//! a new secret key tried against Stripe through the plugin before it is kept — and then settings
//! and key stored together, or nothing at all.

use super::{App, CallError};
use crate::contract::paydesk::stripe::types::FieldError;
use crate::settings::{TenantSettings, key_info};
use crate::tenant::{Secret, TenantId};

/// What a save asks for.
#[derive(Debug, Clone)]
pub struct SettingsSave {
    pub settings: TenantSettings,
    /// A new secret key; `None` keeps the stored one.
    pub secret_key: Option<Secret>,
}

/// Why a save changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("the settings were not saved: {}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Call(#[from] CallError),
}

fn field(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// What is wrong with a key's characters, if anything: Stripe keys are letters, digits and `_`,
/// and a line break or other control character would not survive an HTTP header.
pub fn key_characters_problem(key: &Secret) -> Option<&'static str> {
    let k = key.expose();
    if k.bytes().any(|b| b.is_ascii_control()) {
        Some(
            "the key contains a line break or another control character; paste it again as one line",
        )
    } else if !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Some("a Stripe key has only letters, digits and underscores (sk_test_…, sk_live_…, rk_…)")
    } else {
        None
    }
}

impl App {
    /// Validate and store settings (and a new secret key) for `tenant`; on any error nothing changes.
    pub fn save_settings(&self, tenant: &TenantId, save: SettingsSave) -> Result<(), SaveError> {
        let stored = self.db().tenant(tenant).map_err(CallError::from)?;
        let mut settings = save.settings;
        // Set by "Save and Create/Update Webhooks in Stripe", never by a form.
        settings.enablehalostripewebhooks = stored.settings.enablehalostripewebhooks;
        settings.stripe_webhook_endpoint_id = stored.settings.stripe_webhook_endpoint_id.clone();

        let key = match &save.secret_key {
            Some(k) => Some(k.clone()),
            None => self.db().secret_key(tenant).map_err(CallError::from)?,
        };
        let mut errors = Vec::new();
        if let Some(k) = &save.secret_key
            && let Some(problem) = key_characters_problem(k)
        {
            // Refused here: such a key could never be sent in a header, so it is not tried.
            errors.push(field("stripe_secret_key", problem));
        }
        if settings.time_zone.parse::<chrono_tz::Tz>().is_err() {
            errors.push(field(
                "time_zone",
                format!(
                    "`{}` is not an IANA time zone (e.g. Europe/London)",
                    settings.time_zone
                ),
            ));
        }
        if let Some(Err(message)) = settings
            .stripenotificationemail
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(crate::addresses::check)
        {
            errors.push(field("stripenotificationemail", message));
        }
        // A secret key pasted into the publishable key field is refused here: it must not enter
        // the sandbox (the plugin's own check of the field never sees it).
        let mut for_plugin = settings.clone();
        if settings
            .stripe_public_key
            .as_deref()
            .map(str::trim)
            .is_some_and(|k| k.starts_with("sk_") || k.starts_with("rk_"))
        {
            errors.push(field(
                "stripe_public_key",
                "this is a secret key: never put it in the publishable key field; use the pk_… key from Stripe's Developers › API keys",
            ));
            for_plugin.stripe_public_key = None;
        }
        let ctx = self.context(tenant, key.clone()).map_err(CallError::from)?;
        let candidate = for_plugin.to_wit(key.as_ref());
        match self.call_in(ctx, "admin.validate-settings", &candidate, |p, s| {
            p.paydesk_stripe_admin()
                .call_validate_settings(s, &candidate)
        }) {
            Ok(()) => {}
            Err(CallError::Plugin(p)) if !p.field_errors.is_empty() => {
                // One message per field: the host's address check says more than the plugin's.
                let named: Vec<String> = errors.iter().map(|e| e.field.clone()).collect();
                errors.extend(
                    p.field_errors
                        .into_iter()
                        .filter(|e| !named.contains(&e.field)),
                )
            }
            Err(e) => return Err(e.into()),
        }
        if !errors.is_empty() {
            return Err(SaveError::Invalid(errors));
        }
        // A new key must open the account before it replaces the one that works.
        if let Some(new_key) = &save.secret_key {
            let info = key_info(new_key);
            if let Err(e) = self.test_connection(tenant, Some(new_key.clone())) {
                return Err(match e {
                    CallError::Plugin(p) if p.stripe.is_some() => SaveError::Invalid(vec![field(
                        "stripe_secret_key",
                        format!("Stripe refused the key {}: {}", info.masked, p.message),
                    )]),
                    other => SaveError::Call(other),
                });
            }
        }
        self.db()
            .save_settings_and_key(tenant, &settings, save.secret_key.as_ref())
            .map_err(CallError::from)?;
        Ok(())
    }
}
