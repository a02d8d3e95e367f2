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

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::{App, CallError, RunReport};
use crate::tenant::TenantId;

/// How often a running holder renews its leases.
const RENEW_EVERY: Duration = Duration::from_secs(20);
/// How many planned charges per autopay worker a host gathers (tenant by tenant) before it charges
/// them: enough to keep every worker busy through the batch, few enough that the tenants it holds
/// are ones it is about to run.
pub const BATCH_CHARGES_PER_WORKER: usize = 4;
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
    /// otherwise (the scheduler, `paydesk autopay --join`) a tenant whose run another host holds
    /// or finished is `None`.
    ///
    /// The hosts share the tenants as they go: a host takes one tenant's lease at a time and
    /// prepares its run (generation and plan), until it holds enough planned charges to keep its
    /// workers busy ([`BATCH_CHARGES_PER_WORKER`] each), then charges that batch and finishes
    /// it before taking more. So a host never holds tenants it cannot get to soon, and hosts that
    /// start together end together.
    pub fn run_autopay_shared(
        &self,
        tenants: &[TenantId],
        date: Option<&str>,
        by_hand: bool,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Vec<Option<Result<RunReport, CallError>>> {
        let holder = holder_id();
        let seconds = self.run_lease_seconds();
        let mut out: Vec<Option<Result<RunReport, CallError>>> =
            (0..tenants.len()).map(|_| None).collect();
        // Each tenant with its day, in order; a tenant whose day can't be told is done (with the
        // error).
        let mut pending: VecDeque<(usize, String)> = VecDeque::new();
        for (i, tenant) in tenants.iter().enumerate() {
            match date.map_or_else(|| self.local_date(tenant), |d| Ok(d.to_string())) {
                Ok(day) => pending.push_back((i, day)),
                Err(e) => out[i] = Some(Err(e)),
            }
        }
        // The leases this process holds now, renewed until they are finished.
        let held: Mutex<Vec<(TenantId, String)>> = Mutex::new(Vec::new());
        let lock = || held.lock().unwrap_or_else(|p| p.into_inner());
        let target = self.autopay_workers.max(1) * BATCH_CHARGES_PER_WORKER;
        let (charged, planned) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        std::thread::scope(|scope| {
            scope.spawn(move || {
                // Renew until the run is over (the sender is dropped).
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(RENEW_EVERY)
                {
                    let now_held = lock().clone();
                    for (tenant, day) in &now_held {
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
            // Tenants another host holds, asked again once the free ones are done (by hand only).
            let mut elsewhere: Vec<(usize, String)> = Vec::new();
            loop {
                let mut batch: Vec<(usize, String)> = Vec::new();
                let mut reports: Vec<Result<RunReport, CallError>> = Vec::new();
                let mut batch_planned = 0;
                while batch_planned < target {
                    let Some((i, day)) = pending.pop_front() else {
                        break;
                    };
                    let tenant = &tenants[i];
                    match self
                        .db()
                        .take_lease(tenant, &work(&day), holder, seconds, by_hand)
                    {
                        Ok(true) => {
                            lock().push((tenant.clone(), day.clone()));
                            let report = self.prepare_run(tenant, Some(&day), false);
                            batch_planned += report.as_ref().map_or(0, |r| r.plan.len());
                            batch.push((i, day));
                            reports.push(report);
                        }
                        Ok(false) if by_hand => elsewhere.push((i, day)),
                        Ok(false) => tracing::info!(
                            tenant = tenant.as_str(),
                            date = day,
                            "the daily run is another host's (or done)"
                        ),
                        Err(e) => out[i] = Some(Err(e.into())),
                    }
                }
                if batch.is_empty() {
                    if elsewhere.is_empty() {
                        break;
                    }
                    std::thread::sleep(WAIT_POLL);
                    pending.extend(elsewhere.drain(..));
                    continue;
                }
                let before = charged.load(Ordering::Relaxed);
                let total = planned.fetch_add(batch_planned, Ordering::Relaxed) + batch_planned;
                let ids: Vec<TenantId> = batch.iter().map(|(i, _)| tenants[*i].clone()).collect();
                let results = self.charge_and_finish(&ids, reports, &|done, _| {
                    progress(before + done, total);
                });
                charged.store(before + batch_planned, Ordering::Relaxed);
                for ((i, day), report) in batch.into_iter().zip(results) {
                    let tenant = &tenants[i];
                    if let Err(e) = self.db().finish_lease(tenant, &work(&day), holder) {
                        tracing::warn!(tenant = tenant.as_str(), error = %e, "finishing the daily run's lease");
                    }
                    lock().retain(|(t, d)| !(t == tenant && *d == day));
                    out[i] = Some(report);
                }
            }
            drop(stop);
        });
        out
    }
}
