//! The throttling rule of sign-in, pure: a counter per key (an account, a client address, a
//! browser that signed in to the account before) of consecutive failures. The first `free`
//! failures cost nothing; after that each failure makes the key wait before its next attempt,
//! the wait doubling from `base` up to `max` — at `max` an account is locked out, and its owner is
//! told once per streak. A wait always ends: the first attempt after it is let through. An attempt
//! counts as a failure from the moment it is let through until it succeeds (then the account's
//! counter is cleared), so attempts racing each other are counted too. A streak is forgotten
//! `forget_after` seconds after its last attempt. The counters live in the database
//! (`db::SignInStore`), so several hosts share them.

/// How one kind of key is throttled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub free: u32,
    pub base_seconds: i64,
    pub max_seconds: i64,
    pub forget_after: i64,
}

/// An account (tenant, role, email), known or not: 5 free failures, then 1 s doubling to a
/// 15-minute lockout at the 15th.
pub const ACCOUNT: Rule = Rule {
    free: 5,
    base_seconds: 1,
    max_seconds: 15 * 60,
    forget_after: 3600,
};

/// A client address (IPv4, or the /64 of an IPv6 address): 20 free failures, then 1 s doubling
/// to 5 minutes.
pub const ADDRESS: Rule = Rule {
    free: 20,
    base_seconds: 1,
    max_seconds: 5 * 60,
    forget_after: 3600,
};

/// A key's streak of failures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counter {
    pub failures: u32,
    pub first_failure_at: i64,
    pub next_allowed_at: i64,
    pub updated_at: i64,
}

impl Rule {
    /// How long a key waits after its `failures`-th failure.
    pub fn delay(&self, failures: u32) -> i64 {
        if failures < self.free {
            return 0;
        }
        let doublings = (failures - self.free).min(40);
        self.base_seconds
            .checked_shl(doublings)
            .filter(|d| *d > 0)
            .unwrap_or(self.max_seconds)
            .min(self.max_seconds)
    }

    /// Whether the `failures`-th failure is the one that reaches the longest wait (a lockout).
    pub fn locks_at(&self, failures: u32) -> bool {
        failures > 0
            && self.delay(failures) >= self.max_seconds
            && self.delay(failures - 1) < self.max_seconds
    }

    /// Let an attempt through at `now`: the counter with it counted as a failure; or, when the
    /// key must still wait, the seconds left.
    pub fn admit(&self, counter: Option<Counter>, now: i64) -> Result<Counter, i64> {
        let c = counter
            .filter(|c| now - c.updated_at < self.forget_after)
            .unwrap_or_default();
        if now < c.next_allowed_at {
            return Err(c.next_allowed_at - now);
        }
        let failures = c.failures.saturating_add(1);
        Ok(Counter {
            failures,
            first_failure_at: if c.failures == 0 {
                now
            } else {
                c.first_failure_at
            },
            next_allowed_at: now + self.delay(failures),
            updated_at: now,
        })
    }
}

/// The throttling key of a client address: an IPv4 address, or the /64 network of an IPv6 one
/// (one host usually holds a whole /64).
pub fn address_key(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => format!("address:{v4}"),
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("address:{v4}"),
            None => {
                let s = v6.segments();
                format!("address:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_after_the_free_failures_and_stop_at_the_lockout() {
        let delays: Vec<i64> = (1..=16).map(|n| ACCOUNT.delay(n)).collect();
        assert_eq!(
            delays,
            [0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]
        );
        assert!(ACCOUNT.locks_at(15));
        assert!(!ACCOUNT.locks_at(14) && !ACCOUNT.locks_at(16));
        assert_eq!(ADDRESS.delay(19), 0);
        assert_eq!(ADDRESS.delay(40), 300);
        assert_eq!(ADDRESS.delay(u32::MAX), 300);
    }

    #[test]
    fn a_waiting_key_is_refused_until_its_wait_ends_and_then_let_through() {
        let mut c = None;
        let mut now = 1_000;
        for _ in 0..5 {
            c = Some(ACCOUNT.admit(c, now).unwrap());
        }
        assert_eq!(c.unwrap().next_allowed_at, now + 1);
        assert_eq!(ACCOUNT.admit(c, now), Err(1));
        now += 1;
        let after = ACCOUNT.admit(c, now).unwrap();
        assert_eq!((after.failures, after.first_failure_at), (6, 1_000));
        assert_eq!(after.next_allowed_at, now + 2);
    }

    #[test]
    fn a_lockout_always_ends_and_an_old_streak_is_forgotten() {
        let locked = Counter {
            failures: 15,
            first_failure_at: 0,
            next_allowed_at: 900,
            updated_at: 0,
        };
        assert_eq!(ACCOUNT.admit(Some(locked), 899), Err(1));
        assert_eq!(ACCOUNT.admit(Some(locked), 900).unwrap().failures, 16);
        let fresh = ACCOUNT.admit(Some(locked), 3_600).unwrap();
        assert_eq!((fresh.failures, fresh.first_failure_at), (1, 3_600));
    }

    #[test]
    fn ipv6_clients_are_throttled_by_network() {
        let a: std::net::IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: std::net::IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_eq!(address_key(a), "address:2001:db8:1:2::/64");
        let mapped: std::net::IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        assert_eq!(address_key(mapped), "address:10.1.2.3");
    }
}
