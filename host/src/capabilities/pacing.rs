//! A limit on how many requests per second go to one Stripe account
//! (`PAYDESK_STRIPE_MAX_REQUESTS_PER_SECOND`, or the tenant's own limit, which replaces it for its
//! account). Requests are spaced: each is let go at least
//! `1 s / limit` after the one before, measured when it is let go, so no window of one second ever
//! holds more than `limit` of them, and waiting callers never burst after a quiet spell. Callers
//! wait on their own thread; nothing is queued or dropped.
//!
//! The limit is per Stripe account and holds for every process on the database together (every
//! host on one PostgreSQL, or `serve` and `autopay` on one SQLite file): [`wait_shared_turn`] takes
//! each request's turn from one row per account in the database (the next free moment, advanced
//! by one interval per request in one statement), and sleeps until it. The account is named by a
//! shortened SHA-256 of its secret key, never the key. Shared turns are spaced a little wider than
//! `1 s / limit` (5 %), so a request delayed up to 50 ms on its way still leaves no second of
//! Stripe's log with more than the limit. When the database cannot be asked, the process's own
//! pacer spaces its requests (the limit then holds per process).

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Spaces requests to at most `per_second` per second.
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    /// The earliest instant the next request may go.
    next: Mutex<Option<Instant>>,
}

impl Pacer {
    pub fn new(per_second: NonZeroU32) -> Pacer {
        Pacer {
            interval: Duration::from_secs(1) / per_second.get(),
            next: Mutex::new(None),
        }
    }

    /// The spacing between two requests.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Block until this request may go, and take its turn; returns when the turn was taken.
    pub fn wait_turn(&self) -> Instant {
        loop {
            let wait = {
                let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                match *next {
                    Some(at) if at > now => at - now,
                    _ => {
                        *next = Some(now + self.interval);
                        return now;
                    }
                }
            };
            std::thread::sleep(wait);
        }
    }
}

/// The shared spacing for `per_second` requests a second: 5 % wider than `1 s / per_second`.
pub fn shared_interval(per_second: NonZeroU32) -> Duration {
    Duration::from_secs(1) / per_second.get() * 105 / 100
}

/// The account the database paces: a shortened SHA-256 of its secret key.
pub fn account(key: &crate::tenant::Secret) -> String {
    use sha2::{Digest, Sha256};
    format!(
        "sk:{}",
        &hex::encode(Sha256::digest(key.expose().as_bytes()))[..24]
    )
}

/// Take this request's turn among every process on the database sending with `key`, at most
/// `per_second` a second: how long to wait for it.
pub fn take_shared_turn(
    db: &dyn crate::db::Database,
    per_second: NonZeroU32,
    key: &crate::tenant::Secret,
) -> crate::db::DbResult<Duration> {
    let interval = i64::try_from(shared_interval(per_second).as_micros()).unwrap_or(i64::MAX);
    let wait = db.take_request_turn(&account(key), interval)?;
    Ok(Duration::from_micros(wait.max(0).unsigned_abs()))
}

/// Wait for this request's turn among every process on the database sending with `key`, at most
/// `per_second` a second; `fallback` spaces this process's requests when the database cannot.
pub fn wait_shared_turn(
    db: &dyn crate::db::Database,
    per_second: NonZeroU32,
    fallback: &Pacer,
    key: &crate::tenant::Secret,
) {
    match take_shared_turn(db, per_second, key) {
        Ok(wait) => {
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "the database could not space Stripe requests; this process spaces its own");
            fallback.wait_turn();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Many threads asking at once: every two turns are at least the interval apart, so any
    /// one-second window holds at most the limit.
    #[test]
    fn turns_are_spaced_by_the_interval_across_threads() {
        let pacer = Arc::new(Pacer::new(NonZeroU32::new(200).unwrap()));
        let times = Arc::new(Mutex::new(Vec::new()));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (pacer, times) = (pacer.clone(), times.clone());
                std::thread::spawn(move || {
                    for _ in 0..10 {
                        let turn = pacer.wait_turn();
                        times.lock().unwrap().push(turn);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let mut times = times.lock().unwrap().clone();
        times.sort();
        assert_eq!(times.len(), 80);
        for pair in times.windows(2) {
            assert!(
                pair[1] - pair[0] >= pacer.interval(),
                "two requests {:?} apart; the limit allows one per {:?}",
                pair[1] - pair[0],
                pacer.interval()
            );
        }
        // 80 turns at 200/s take at least 79 intervals.
        assert!(times[79] - times[0] >= pacer.interval() * 79);
    }
}
