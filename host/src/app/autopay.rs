//! The daily integrator run for one tenant: generate the recurring
//! invoices that are due (each raising the plugin's invoice-created event), ask the plugin for the
//! plan, charge what it says (one sandboxed call per invoice), reconcile stuck payments, remind
//! customers whose automatic card expires this month or next, retry customer syncs that failed,
//! and record the run's time and last error. A dry run only plans.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::Utc;

use super::{App, CallError};
use crate::contract::exports::paydesk::stripe::events::{
    AutopayDecision, AutopayResult, InvoiceCreatedOutcome,
};
use crate::contract::reminders::CardReminder;
use crate::tenant::TenantId;

/// What one tenant's run did (or, dry, would do).
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    pub tenant: String,
    /// The tenant-local date the run was for.
    pub date: String,
    pub generated: Vec<i64>,
    pub plan: Vec<AutopayDecision>,
    pub results: Vec<AutopayResult>,
    /// Customers reminded of (or already told this month about) their expiring automatic card.
    pub reminders: Vec<CardReminder>,
    pub errors: Vec<String>,
}

impl App {
    /// Today in the tenant's time zone.
    pub fn local_date(&self, tenant: &TenantId) -> Result<String, CallError> {
        let settings = self.db().tenant(tenant)?.settings;
        let tz: chrono_tz::Tz = settings.time_zone.parse().unwrap_or(chrono_tz::UTC);
        Ok(Utc::now().with_timezone(&tz).date_naive().to_string())
    }

    /// The plan for `date` (the tenant's local date), changing nothing.
    pub fn autopay_plan(
        &self,
        tenant: &TenantId,
        date: &str,
    ) -> Result<Vec<AutopayDecision>, CallError> {
        let ctx = self.context(tenant, None)?;
        self.call_in(ctx, "events.autopay-plan", &date, |p, s| {
            p.paydesk_stripe_events().call_autopay_plan(s, date)
        })
    }

    /// An invoice of the daily run was generated: the plugin charges it at once when the tenant
    /// takes payment on invoice creation. Like the run's charges, it waits for one of the
    /// tenant's instances instead of being refused.
    pub fn invoice_created(
        &self,
        tenant: &TenantId,
        invoice: i64,
    ) -> Result<InvoiceCreatedOutcome, CallError> {
        let ctx = self.context(tenant, None)?;
        self.call_queued_in(ctx, "events.invoice-created", &invoice, |p, s| {
            p.paydesk_stripe_events().call_invoice_created(s, invoice)
        })
    }

    /// Charge one invoice of the plan.
    pub fn autopay_charge(
        &self,
        tenant: &TenantId,
        invoice: i64,
        date: &str,
    ) -> Result<AutopayResult, CallError> {
        let ctx = self.context(tenant, None)?;
        self.call_queued_in(ctx, "events.autopay-charge", &(invoice, date), |p, s| {
            p.paydesk_stripe_events()
                .call_autopay_charge(s, invoice, date)
        })
    }

    /// Remind the tenant's customers whose automatic card expires in `date`'s month or the next
    /// (once per card and month, by the outbox's dedup key). Nothing when the component has no
    /// `reminders` export (it is optional in contract 0.2).
    pub fn remind_expiring_cards(
        &self,
        tenant: &TenantId,
        date: &str,
    ) -> Result<Vec<CardReminder>, CallError> {
        let ctx = self.context(tenant, None)?;
        self.call_queued_in(
            ctx,
            "reminders.remind-expiring-cards",
            &date,
            |p, s| match p.paydesk_stripe_reminders(s)? {
                Some(r) => r.call_remind_expiring_cards(s, date),
                None => Ok(Ok(Vec::new())),
            },
        )
    }

    /// Run the daily integrator for `tenant` on `date` (default: its local today). `progress` is
    /// told about each invoice charged. The charges run on the app's autopay workers.
    pub fn run_autopay(
        &self,
        tenant: &TenantId,
        date: Option<&str>,
        dry_run: bool,
        progress: &mut (dyn FnMut(usize, usize) + Send),
    ) -> Result<RunReport, CallError> {
        let progress = Mutex::new(progress);
        let report_progress = |done, total| {
            let mut p = progress.lock().unwrap_or_else(|p| p.into_inner());
            (*p)(done, total)
        };
        self.run_autopay_many(
            std::slice::from_ref(tenant),
            date,
            dry_run,
            &report_progress,
        )
        .pop()
        .expect("one report per tenant")
    }

    /// Run the daily integrator for each of `tenants`, [`App::autopay_workers`] plugin calls at a
    /// time: first every tenant's generation and plan, then every planned charge of every tenant,
    /// then each tenant's reconciliation, customer-sync retries and run record. Returns one report
    /// (or error) per tenant, in order. `progress` hears (charges done, charges planned).
    pub fn run_autopay_many(
        &self,
        tenants: &[TenantId],
        date: Option<&str>,
        dry_run: bool,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Vec<Result<RunReport, CallError>> {
        let reports = parallel_map(tenants, self.autopay_workers, |tenant| {
            self.prepare_run(tenant, date, dry_run)
        });
        if dry_run {
            return reports;
        }
        self.charge_and_finish(tenants, reports, progress)
    }

    /// The rest of the run for `tenants` whose generation and plan are `reports` (one per tenant,
    /// in order; a tenant whose preparation failed keeps its error): every planned charge of every
    /// tenant on the autopay workers, then each tenant's reconciliation, customer-sync retries and
    /// run record. The plan's decisions and the charges' results are counted in the metrics.
    pub(super) fn charge_and_finish(
        &self,
        tenants: &[TenantId],
        mut reports: Vec<Result<RunReport, CallError>>,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Vec<Result<RunReport, CallError>> {
        let metrics = &self.services.metrics;
        for decision in reports.iter().flatten().flat_map(|r| &r.plan) {
            metrics.record_autopay_decision(decision.charge);
        }
        // Every invoice of the plan goes to the plugin: it decides again under its claim and keeps
        // the decision, charge or skip and why, in the audit trail.
        let charges: Vec<(usize, i64, i64, &str)> = reports
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.as_ref().ok().map(|r| (i, r)))
            .flat_map(|(i, r)| {
                r.plan
                    .iter()
                    .map(move |d| (i, d.invoice_id, d.customer_id, r.date.as_str()))
            })
            .collect();
        // Each customer's first charge goes in a first wave and the rest after it: the first one
        // reads the automatic method's type from Stripe and keeps it, so the others needn't (a
        // customer's charges running at once on many workers would each read it).
        let mut seen = std::collections::HashSet::new();
        let (mut first, mut rest): (Vec<usize>, Vec<usize>) =
            (0..charges.len()).partition(|&k| seen.insert((charges[k].0, charges[k].2)));
        // Tenants take turns within a wave: a tenant whose charges wait for its instances
        // ([`crate::runtime::Admission::Queued`]) holds up as few workers as can be.
        for wave in [&mut first, &mut rest] {
            take_turns(wave, |k| charges[k].0);
        }
        let done = AtomicUsize::new(0);
        let mut results: Vec<Option<Result<AutopayResult, CallError>>> =
            (0..charges.len()).map(|_| None).collect();
        for wave in [first, rest] {
            let outcomes = parallel_map(&wave, self.autopay_workers, |&k| {
                let (i, invoice, _, date) = charges[k];
                let outcome = self.autopay_charge(&tenants[i], invoice, date);
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, charges.len());
                outcome
            });
            for (&k, outcome) in wave.iter().zip(outcomes) {
                results[k] = Some(outcome);
            }
        }
        let outcomes: Vec<(usize, i64, Result<AutopayResult, CallError>)> = charges
            .iter()
            .zip(results)
            .map(|(&(i, invoice, _, _), o)| {
                let o = o.expect("every planned charge ran in one of the waves");
                (i, invoice, o)
            })
            .collect();
        for (i, invoice, outcome) in outcomes {
            metrics.record_autopay_result(match &outcome {
                Ok(r) => r.status.map_or("skipped", crate::db::payment_status_name),
                Err(_) => "error",
            });
            if let Ok(report) = &mut reports[i] {
                match outcome {
                    Ok(r) => report.results.push(r),
                    Err(e) => report.errors.push(format!("invoice {invoice}: {e}")),
                }
            }
        }
        let finished = parallel_map(
            tenants.iter().zip(reports.iter_mut()),
            self.autopay_workers,
            |(tenant, slot)| match slot {
                Ok(r) => Some(self.finish_run(tenant, std::mem::take(r))),
                Err(_) => None,
            },
        );
        for (slot, done) in reports.iter_mut().zip(finished) {
            if let Some(result) = done {
                *slot = result;
            }
        }
        reports
    }

    /// Generate `tenant`'s due recurring invoices (unless dry) and make the plan.
    pub(super) fn prepare_run(
        &self,
        tenant: &TenantId,
        date: Option<&str>,
        dry_run: bool,
    ) -> Result<RunReport, CallError> {
        let date = match date {
            Some(d) => d.to_string(),
            None => self.local_date(tenant)?,
        };
        let mut report = RunReport {
            tenant: tenant.to_string(),
            date: date.clone(),
            ..RunReport::default()
        };
        if !dry_run {
            report.generated = self.db().generate_due(tenant, &date)?;
            // The events run on the workers (a tenant taking payment on invoice creation is
            // charged here), the first alone: like a customer's first charge in the waves below,
            // it may read the automatic method's type from Stripe and keep it for the others.
            let created = |invoice: &i64| self.invoice_created(tenant, *invoice);
            let (first, rest) = report.generated.split_at(report.generated.len().min(1));
            let mut outcomes: Vec<Result<_, CallError>> = first.iter().map(created).collect();
            outcomes.extend(parallel_map(rest, self.autopay_workers, created));
            for (invoice, outcome) in report.generated.iter().zip(outcomes) {
                if let Err(e) = outcome {
                    report
                        .errors
                        .push(format!("invoice {invoice} (created): {e}"));
                }
            }
        }
        report.plan = self.autopay_plan(tenant, &date)?;
        Ok(report)
    }

    /// After the charges: reconcile, remind customers of expiring automatic cards, retry failed
    /// customer syncs, record the run.
    fn finish_run(&self, tenant: &TenantId, mut report: RunReport) -> Result<RunReport, CallError> {
        if let Err(e) = self.reconcile(tenant, crate::db::now()) {
            report.errors.push(format!("reconciliation: {e}"));
        }
        match self.remind_expiring_cards(tenant, &report.date) {
            Ok(reminders) => report.reminders = reminders,
            Err(e) => report.errors.push(format!("expiring card reminders: {e}")),
        }
        self.retry_customer_syncs(tenant, &mut report);
        let last_error = report.errors.last().cloned();
        self.db()
            .record_autopay_run(tenant, crate::db::now(), last_error.as_deref())?;
        Ok(report)
    }

    /// Customers whose last sync to Stripe failed are synced again.
    fn retry_customer_syncs(&self, tenant: &TenantId, report: &mut RunReport) {
        let mut after = None;
        loop {
            let page = match self.db().customers(tenant, after, 1000) {
                Ok(p) => p,
                Err(e) => {
                    report.errors.push(format!("customers: {e}"));
                    return;
                }
            };
            let Some(last) = page.last() else { return };
            after = Some(last.id);
            for c in page.iter().filter(|c| c.stripe_sync_error.is_some()) {
                if let Err(e) = self.customer_saved(tenant, c.id) {
                    report.errors.push(format!("customer {} sync: {e}", c.id));
                }
            }
        }
    }
}

/// Reorder `wave` so its tenants (`tenant_of` each item) take turns: every tenant's first item,
/// then every tenant's second, and so on, each tenant's items in their order.
fn take_turns(wave: &mut Vec<usize>, tenant_of: impl Fn(usize) -> usize) {
    let mut taken: std::collections::HashMap<usize, usize> = Default::default();
    let mut ranked: Vec<(usize, usize)> = wave
        .iter()
        .map(|&k| {
            let rank = taken.entry(tenant_of(k)).or_default();
            *rank += 1;
            (*rank, k)
        })
        .collect();
    ranked.sort_by_key(|&(rank, _)| rank);
    *wave = ranked.into_iter().map(|(_, k)| k).collect();
}

/// `f` over `items` on up to `workers` threads (the calling thread alone for one), results in
/// order. Each worker takes the next item as it finishes one, so slow items don't hold others up.
fn parallel_map<T: Send, R: Send>(
    items: impl IntoIterator<Item = T>,
    workers: usize,
    f: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    let items: Vec<T> = items.into_iter().collect();
    let n = items.len();
    let workers = workers.clamp(1, n.max(1));
    if workers == 1 {
        return items.into_iter().map(f).collect();
    }
    let queue = Mutex::new(items.into_iter().enumerate());
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..n).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let next = queue.lock().unwrap_or_else(|p| p.into_inner()).next();
                    let Some((i, item)) = next else { break };
                    let r = f(item);
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.expect("every item was mapped"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{parallel_map, take_turns};

    #[test]
    fn tenants_take_turns_within_a_wave_each_in_its_order() {
        // Items 0..=4 of tenant 0, 5..=6 of tenant 1, 7 of tenant 2.
        let tenant_of = |k: usize| match k {
            0..=4 => 0,
            5..=6 => 1,
            _ => 2,
        };
        let mut wave: Vec<usize> = (0..8).collect();
        take_turns(&mut wave, tenant_of);
        assert_eq!(wave, vec![0, 5, 7, 1, 6, 2, 3, 4]);
    }

    #[test]
    fn parallel_map_keeps_order_and_maps_every_item_once() {
        let items: Vec<u64> = (0..1000).collect();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let out = parallel_map(&items, 7, |x| {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            x * 2
        });
        assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>());
        assert_eq!(calls.into_inner(), 1000);
        assert!(parallel_map(Vec::<u8>::new(), 4, |x| x).is_empty());
    }
}
