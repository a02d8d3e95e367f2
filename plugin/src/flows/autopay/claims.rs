//! An automatic attempt's claim in the tenant's storage (`autopay/{invoice}/{attempt}`): written
//! create-only before Stripe is called, taken over by compare-and-swap when its lease has passed,
//! settled with the attempt's outcome. The invoice's attempts are read back from their claims.

use serde::{Deserialize, Serialize};

use crate::bindings::paydesk::stripe::storage;
use crate::bindings::paydesk::stripe::types::ErrorKind;
use crate::domain::autopay::Attempt;
use crate::flows::{Result, error, host_error};

/// An attempt's claim, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Claim {
    /// `claimed` until settled; then the attempt's payment status.
    pub(super) state: String,
    pub(super) date: String,
    pub(super) group: String,
    pub(super) lease_until: i64,
    #[serde(default)]
    pub(super) failure_code: Option<String>,
}

/// An attempt as read from storage: what the decision sees, its claim, and the claim's version.
pub(super) type StoredAttempt = (Attempt, Claim, u64);

pub(super) fn claim_key(invoice: i64, attempt: u32) -> String {
    format!("autopay/{invoice}/{attempt:04}")
}

/// The attempts made on an invoice, from their claims.
pub(super) fn attempts(invoice: i64) -> Result<Vec<StoredAttempt>> {
    let entries = storage::list_prefix(&format!("autopay/{invoice}/"), None, 1000)
        .map_err(|e| host_error("storage", e))?;
    Ok(entries
        .into_iter()
        .filter_map(|e| {
            let number: u32 = e.key.rsplit('/').next()?.parse().ok()?;
            // Claims are written by `serde_json::to_vec`, so UTF-8; reading them as text shares
            // serde_json's `&str` parser with every Stripe answer (`from_slice` would add a copy).
            let claim: Claim = serde_json::from_str(std::str::from_utf8(&e.value).ok()?).ok()?;
            let attempt = Attempt {
                number,
                date: claim.date.clone(),
                status: claim.state.clone(),
                failure_code: claim.failure_code.clone(),
            };
            Some((attempt, claim, e.version))
        })
        .collect())
}

/// A claim as it is stored.
pub(super) fn encode(claim: &Claim) -> Result<Vec<u8>> {
    serde_json::to_vec(claim).map_err(|e| error(ErrorKind::Internal, e.to_string()))
}
