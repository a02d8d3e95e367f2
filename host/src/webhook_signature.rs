//! Verifying Stripe's `Stripe-Signature` header in the host, before the plugin sees an event:
//! HMAC-SHA256 of `"{t}.{body}"` with the endpoint's signing secret, any of several `v1` entries,
//! a timestamp within 300 seconds of now, compared in constant time. Standalone on purpose: it
//! needs only `hmac`, `sha2`, `hex` and `thiserror`, so `fuzz/` includes this file as it is; the
//! caller unwraps the tenant's `Secret` into bytes.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far the signed timestamp may be from now.
pub const TOLERANCE_SECONDS: i64 = 300;

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no Stripe-Signature header")]
    Missing,
    #[error("the Stripe-Signature header has no timestamp or no v1 signature")]
    Malformed,
    #[error("the signature's timestamp is more than {TOLERANCE_SECONDS} s from now")]
    Stale,
    #[error("no v1 signature matches")]
    Mismatch,
}

/// Check `header` for `body` against the signing secret's bytes at `now` (Unix seconds).
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secret: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp: Option<i64> = None;
    let mut signatures: Vec<Vec<u8>> = Vec::new();
    for part in header.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else {
            continue;
        };
        match key {
            "t" => timestamp = value.parse().ok(),
            "v1" => {
                if let Ok(sig) = hex::decode(value) {
                    signatures.push(sig);
                }
            }
            _ => {}
        }
    }
    let t = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    // In i128: the header's `t` is anyone's i64, and `now - t` need not fit in one (found by
    // fuzz/fuzz_targets/webhook_signature.rs).
    if (i128::from(now) - i128::from(t)).abs() > i128::from(TOLERANCE_SECONDS) {
        return Err(SignatureError::Stale);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| SignatureError::Mismatch)?;
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    // `verify_slice` compares in constant time; every candidate is checked.
    let mut ok = false;
    for sig in &signatures {
        ok |= mac.clone().verify_slice(sig).is_ok();
    }
    if ok {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(body: &str, secret: &str, t: i64) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.{body}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn accepts_any_matching_v1_within_tolerance() {
        let secret = b"whsec_test";
        let body = r#"{"id":"evt_1"}"#;
        let good = sign(body, "whsec_test", 1000);
        let header = format!("t=1000,v1={},v1={good},v0=ignored", "ab".repeat(32));
        assert_eq!(verify(Some(&header), body.as_bytes(), secret, 1200), Ok(()));
    }

    #[test]
    fn refuses_forged_stale_and_malformed_signatures() {
        let secret = b"whsec_test";
        let body = r#"{"id":"evt_1"}"#;
        let forged = sign(body, "whsec_other", 1000);
        assert_eq!(
            verify(
                Some(&format!("t=1000,v1={forged}")),
                body.as_bytes(),
                secret,
                1000
            ),
            Err(SignatureError::Mismatch)
        );
        let good = sign(body, "whsec_test", 1000);
        assert_eq!(
            verify(
                Some(&format!("t=1000,v1={good}")),
                body.as_bytes(),
                secret,
                1301
            ),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(
                Some(&format!("t=1000,v1={good}")),
                b"{\"id\":\"evt_2\"}",
                secret,
                1000
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some("v1=abc"), body.as_bytes(), secret, 1000),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(None, body.as_bytes(), secret, 1000),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn timestamps_at_the_ends_of_i64_are_stale_not_an_overflow() {
        // Regression: `now - t` overflowed (a panic in debug builds) for a far-off `t`.
        let body = b"{}";
        for (t, now) in [(i64::MIN, 1_700_000_000), (i64::MAX, -1), (-1, i64::MAX)] {
            let header = format!("t={t},v1={}", sign("{}", "whsec_test", t));
            assert_eq!(
                verify(Some(&header), body, b"whsec_test", now),
                Err(SignatureError::Stale),
                "t={t}, now={now}"
            );
        }
    }
}
