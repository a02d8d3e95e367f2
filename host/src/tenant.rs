//! Tenants: the validated tenant id and the context a plugin call carries (settings and Stripe
//! access). The [`Secret`] wrapper lives in [`crate::secret`] and is re-exported here.

use std::fmt;

pub use crate::secret::Secret;
use crate::settings::TenantSettings;

/// A tenant's id: 1–40 characters of `a-z`, `0-9` and `-`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct TenantId(String);

impl TenantId {
    pub fn parse(s: &str) -> Result<TenantId, String> {
        let ok = !s.is_empty()
            && s.len() <= 40
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-');
        if ok {
            Ok(TenantId(s.to_string()))
        } else {
            Err(format!(
                "`{s}` is not a tenant id (use 1-40 lower-case letters, digits and dashes)"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a call reaches the tenant's Stripe account. Lives in the host; never enters the sandbox.
#[derive(Debug, Clone)]
pub struct StripeAccess {
    /// API base, e.g. `https://api.stripe.com`.
    pub api_base: String,
    /// The secret key this call uses: the saved one, or a candidate being checked before saving.
    pub secret_key: Option<Secret>,
}

/// What a plugin call knows about the tenant it runs for.
#[derive(Debug, Clone)]
pub struct TenantContext {
    pub id: TenantId,
    pub settings: TenantSettings,
    pub stripe: StripeAccess,
    /// The tenant's own limits (unset: the platform's), read with the tenant.
    pub limits: crate::limits::TenantLimits,
    /// The SHA-256 (hex) of the registered plugin component the tenant runs on, read with the
    /// tenant; `None`: the binary's embedded component.
    pub plugin: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("sk_test_abcdef4242");
        assert_eq!(format!("{s:?} {s}"), "*** ***");
        assert_eq!(s.masked(), "sk_test_…4242");
        assert_eq!(Secret::new("sk_test_ab").masked(), "sk_test_…");
    }

    #[test]
    fn tenant_ids_are_validated() {
        assert!(TenantId::parse("acme-2").is_ok());
        assert!(TenantId::parse("Acme").is_err());
        assert!(TenantId::parse("../x").is_err());
        assert!(TenantId::parse("").is_err());
    }
}
