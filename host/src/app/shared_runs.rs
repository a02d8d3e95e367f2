//! The daily run on several hosts: each tenant's run for a day is done by the holder of its lease
//! (`autopay:YYYY-MM-DD` in the database), so when every host's scheduler finds the day has come,
//! one host runs it and the others stand back. The holder renews the lease while it runs; a host
//! that dies stops renewing, and once the lease has run out the next host to look takes the run
//! over. That run charges nothing twice: every charge is decided under the plugin's per-invoice
//! claim, and an attempt the dead host left behind is resumed or ruled out by the claim protocol
//! (README "What is model-checked"). The lease outlasts the longest charge a dead holder may have
//! had in flight (its claim's lease) by two renewals, so the run taking over finds those claims
//! free. `paydesk autopay` started by hand waits for a lease held elsewhere and runs again even a
//! finished day. Leases are timed by the database's clock (PostgreSQL), so hosts' clocks needn't
//! agree.

use std::sync::OnceLock;
use std::time::Duration;

use super::{App, CallError, RunReport};
use crate::tenant::TenantId;

/// How often a running holder renews its leases.
const RENEW_EVERY: Duration = Duration::from_secs(20);
/// How often a run started by hand asks again for a lease another host holds.
const WAIT_POLL: Duration = Duration::from_millis(500);

/// This process, as a lease holder: host name, process id and a random part (a restarted process
/// is a new holder).
pub fn holder_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "host".into());
        let mut bytes = [0u8; 4];
        let _ = getrandom::fill(&mut bytes);
        format!("{host}:{}:{}", std::process::id(), hex::encode(bytes))
    })
}

/// The lease's name for a tenant's run on `date`.
fn work(date: &str) -> String {
    format!("autopay:{date}")
}

impl App {
    /// How long a run's lease lasts without renewal: the longest a charge may still be in flight
    /// after its host died (the claim's lease), plus two renewals.
    pub fn run_lease_seconds(&self) -> i64 {
        i64::from(self.services.http.claim_lease_seconds()) + 2 * RENEW_EVERY.as_secs() as i64
    }

    /// The daily run for each of `tenants` whose lease this process takes (see the module
    /// comment). `by_hand`: wait for leases held elsewhere, and run a finished day again;
    /// otherwise (the scheduler) a tenant whose run another host holds or finished is `None`.
    pub fn run_autopay_shared(
        &self,
        tenants: &[TenantId],
        date: Option<&str>,
        by_hand: bool,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Vec<Option<Result<RunReport, CallError>>> {
        let holder = holder_id();
        let seconds = self.run_lease_seconds();
        let mut taken: Vec<(usize, TenantId, String)> = Vec::new();
        let mut out: Vec<Option<Result<RunReport, CallError>>> =
            (0..tenants.len()).map(|_| None).collect();
        for (i, tenant) in tenants.iter().enumerate() {
            let day = match date {
                Some(d) => d.to_string(),
                None => match self.local_date(tenant) {
                    Ok(d) => d,
                    Err(e) => {
                        out[i] = Some(Err(e));
                        continue;
                    }
                },
            };
            loop {
                match self
                    .db()
                    .take_lease(tenant, &work(&day), holder, seconds, by_hand)
                {
                    Ok(true) => {
                        taken.push((i, tenant.clone(), day));
                        break;
                    }
                    Ok(false) if by_hand => std::thread::sleep(WAIT_POLL),
                    Ok(false) => {
                        tracing::info!(
                            tenant = tenant.as_str(),
                            date = day,
                            "the daily run is another host's (or done)"
                        );
                        break;
                    }
                    Err(e) => {
                        out[i] = Some(Err(e.into()));
                        break;
                    }
                }
            }
        }
        if taken.is_empty() {
            return out;
        }
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let reports = std::thread::scope(|scope| {
            let taken = &taken;
            scope.spawn(move || {
                // Renew until the run is over (the sender is dropped).
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(RENEW_EVERY)
                {
                    for (_, tenant, day) in taken.iter() {
                        match self.db().renew_lease(tenant, &work(day), holder, seconds) {
                            Ok(true) => {}
                            Ok(false) => tracing::warn!(
                                tenant = tenant.as_str(),
                                date = day,
                                "the daily run's lease was lost (this host was slow or cut off); its claims keep every charge single"
                            ),
                            Err(e) => tracing::warn!(tenant = tenant.as_str(), error = %e, "renewing the daily run's lease"),
                        }
                    }
                }
            });
            // Tenants of one day each run for their own date.
            let mut reports = Vec::new();
            let mut days: Vec<&str> = taken.iter().map(|(_, _, d)| d.as_str()).collect();
            days.sort_unstable();
            days.dedup();
            for day in days {
                let group: Vec<&(usize, TenantId, String)> =
                    taken.iter().filter(|(_, _, d)| d == day).collect();
                let ids: Vec<TenantId> = group.iter().map(|(_, t, _)| t.clone()).collect();
                let results = self.run_autopay_many(&ids, Some(day), false, progress);
                reports.extend(group.into_iter().zip(results).map(|(t, r)| (t.clone(), r)));
            }
            drop(stop);
            reports
        });
        for ((i, tenant, day), report) in reports {
            if let Err(e) = self.db().finish_lease(&tenant, &work(&day), holder) {
                tracing::warn!(tenant = tenant.as_str(), error = %e, "finishing the daily run's lease");
            }
            out[i] = Some(report);
        }
        out
    }
}
