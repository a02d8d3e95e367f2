//! The claim lease: how long a claim on a payment attempt holds, so that no request sent under it
//! can still reach Stripe once it has passed. The host computes the length from its HTTP timeouts
//! ([`claim_lease_seconds`]) and hands it to the plugin in the settings; the plugin dates its
//! claims with [`lease_until`]; an attempt someone started that Stripe has no intent for is ruled
//! out once its lease has passed, an automatic one after [`AUTOMATIC_RULED_OUT_AFTER_SECONDS`].
//! Pure.

use std::time::Duration;

/// What a lease adds to twice the longest request (seconds): clocks and scheduling.
pub const MARGIN_SECONDS: u64 = 5;

/// How long an automatic attempt's records wait before an attempt Stripe has no intent for is
/// ruled out: the next daily run resumes it under its own claim (sending the same request again),
/// so a day, within the time Stripe keeps idempotency keys.
pub const AUTOMATIC_RULED_OUT_AFTER_SECONDS: i64 = 24 * 3600;

/// The lease for requests that connect within `connect_timeout` and answer within `timeout`:
/// twice the longest a request can take, plus [`MARGIN_SECONDS`].
pub fn claim_lease_seconds(timeout: Duration, connect_timeout: Duration) -> u32 {
    timeout
        .saturating_add(connect_timeout)
        .as_secs()
        .saturating_mul(2)
        .saturating_add(MARGIN_SECONDS)
        .try_into()
        .unwrap_or(u32::MAX)
}

/// The end of a lease of `lease_seconds` taken at `now` (Unix seconds).
pub fn lease_until(now: i64, lease_seconds: u32) -> i64 {
    now.saturating_add(i64::from(lease_seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twice_the_longest_request_plus_the_margin() {
        let lease = claim_lease_seconds(Duration::from_secs(30), Duration::from_secs(10));
        assert_eq!(lease, 85);
        let halves = claim_lease_seconds(Duration::from_millis(1500), Duration::from_millis(1500));
        assert_eq!(
            halves, 11,
            "the timeouts are added before whole seconds are taken"
        );
        assert_eq!(
            claim_lease_seconds(Duration::MAX, Duration::MAX),
            u32::MAX,
            "saturates"
        );
    }

    #[test]
    fn a_lease_ends_after_its_length() {
        assert_eq!(lease_until(1_000, 85), 1_085);
        assert_eq!(lease_until(i64::MAX, 85), i64::MAX);
    }
}
