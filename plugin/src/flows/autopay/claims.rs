//! An automatic attempt's claim in the tenant's storage (`autopay/{invoice}/{attempt}`): written
//! create-only before Stripe is called, taken over by compare-and-swap when its lease has passed,
//! settled with the attempt's outcome. The invoice's attempts are read back from their claims.

use crate::json::{self, FromJson, Json};

use crate::bindings::paydesk::stripe::storage;
use crate::domain::autopay::{Attempt, StoredClaim};
use crate::flows::{Result, host_error};

/// An attempt's claim, as stored.
#[derive(Debug, Clone)]
pub(super) struct Claim {
    /// `claimed` until settled; then the attempt's payment status.
    pub(super) state: String,
    pub(super) date: String,
    pub(super) group: String,
    pub(super) lease_until: i64,
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
            // Claims are written by `encode`, so UTF-8.
            let claim: Claim = json::from_str(std::str::from_utf8(&e.value).ok()?).ok()?;
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
    let text = StoredClaim {
        state: &claim.state,
        date: &claim.date,
        group: &claim.group,
        lease_until: claim.lease_until,
        failure_code: claim.failure_code.as_deref(),
    }
    .to_json();
    Ok(text.into_bytes())
}

impl FromJson for Claim {
    fn from_json(v: &Json) -> std::result::Result<Self, json::Error> {
        let mut f = v.fields("a claim")?;
        let read = Claim {
            state: f.req("state"),
            date: f.req("date"),
            group: f.req("group"),
            lease_until: f.req("lease_until"),
            failure_code: f.opt("failure_code"),
        };
        f.done(read)
    }
}
