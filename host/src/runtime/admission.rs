//! Admission of plugin calls on this host: each tenant's calls running at once, counted against
//! its instance limit ([`crate::limits`]). A call either is refused at once at the limit (a page,
//! an API request) or waits for a free instance (the daily run's batch work, which leaves the
//! tenant half its limit). An in-process count of this host's own sandboxes, not a money rule.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex};

use crate::tenant::TenantId;

/// How a call waits for one of its tenant's instances on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Refused at once when the tenant is at its limit (a page, an API request, a webhook).
    Immediate,
    /// The host's own batch work (the daily run's charges): waits while the tenant has half its
    /// limit (at least one) running, so the tenant's own requests keep their share meanwhile.
    Queued,
}

/// Whether a call may start with `running` calls of its tenant running and a limit of `limit`.
fn has_room(running: u32, limit: u32, admission: Admission) -> bool {
    match admission {
        Admission::Immediate => running < limit,
        Admission::Queued => running < (limit / 2).max(1),
    }
}

/// The calls of each tenant running on this host.
#[derive(Debug, Default)]
pub struct RunningCalls {
    counts: Mutex<HashMap<TenantId, u32>>,
    freed: Condvar,
}

/// One running call, counted until dropped.
#[derive(Debug)]
pub struct CallSlot<'a> {
    calls: &'a RunningCalls,
    tenant: TenantId,
}

impl RunningCalls {
    /// Count a call of `tenant`, whose limit is `limit`: `Err(running)` when `Immediate` and the
    /// tenant already has `limit` calls running.
    pub fn enter(
        &self,
        tenant: &TenantId,
        limit: u32,
        admission: Admission,
    ) -> Result<CallSlot<'_>, u32> {
        let limit = limit.max(1);
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let running = counts.get(tenant).copied().unwrap_or(0);
            if has_room(running, limit, admission) {
                counts.insert(tenant.clone(), running + 1);
                return Ok(CallSlot {
                    calls: self,
                    tenant: tenant.clone(),
                });
            }
            if admission == Admission::Immediate {
                return Err(running);
            }
            counts = self.freed.wait(counts).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Calls of `tenant` running now.
    pub fn running(&self, tenant: &TenantId) -> u32 {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.get(tenant).copied().unwrap_or(0)
    }
}

impl Drop for CallSlot<'_> {
    fn drop(&mut self) {
        let mut counts = self.calls.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = counts.get_mut(&self.tenant) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.tenant);
            }
        }
        drop(counts);
        self.calls.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_at_its_limit_is_refused_and_others_are_not() {
        let calls = RunningCalls::default();
        let a = TenantId::parse("a").unwrap();
        let b = TenantId::parse("b").unwrap();
        let first = calls.enter(&a, 2, Admission::Immediate).unwrap();
        let second = calls.enter(&a, 2, Admission::Immediate).unwrap();
        assert_eq!(calls.enter(&a, 2, Admission::Immediate).unwrap_err(), 2);
        let other = calls.enter(&b, 2, Admission::Immediate).unwrap();
        assert_eq!(calls.running(&b), 1);
        drop(first);
        let again = calls.enter(&a, 2, Admission::Immediate).unwrap();
        assert_eq!(calls.running(&a), 2);
        drop((second, again, other));
        assert_eq!(calls.running(&a), 0);
        assert!(calls.counts.lock().unwrap().is_empty(), "no entry is kept");
    }

    #[test]
    fn queued_calls_leave_the_tenant_half_its_limit() {
        assert!(has_room(1, 4, Admission::Queued));
        assert!(!has_room(2, 4, Admission::Queued));
        assert!(has_room(2, 4, Admission::Immediate));
        assert!(!has_room(4, 4, Admission::Immediate));
        // A limit of one still lets the daily run in, one at a time.
        assert!(has_room(0, 1, Admission::Queued));
        assert!(!has_room(1, 1, Admission::Queued));
    }

    #[test]
    fn a_queued_call_waits_until_a_call_ends() {
        let calls = std::sync::Arc::new(RunningCalls::default());
        let a = TenantId::parse("a").unwrap();
        let held = calls.enter(&a, 4, Admission::Queued).unwrap();
        let held2 = calls.enter(&a, 4, Admission::Queued).unwrap();
        // Two queued calls are half of 4: a third waits, while requests still get the other two.
        let waiter = {
            let (calls, a) = (calls.clone(), a.clone());
            std::thread::spawn(move || {
                let _slot = calls.enter(&a, 4, Admission::Queued).unwrap();
            })
        };
        let interactive = calls.enter(&a, 4, Admission::Immediate).unwrap();
        drop(interactive);
        drop(held);
        waiter.join().unwrap();
        drop(held2);
        assert_eq!(calls.running(&a), 0);
    }
}
