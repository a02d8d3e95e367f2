//! The daily integrator run for one tenant (REQUIREMENTS M7, B2, B4, B6): generate the recurring
//! invoices that are due (each raising the plugin's invoice-created event), ask the plugin for the
//! plan, charge what it says (one sandboxed call per invoice), reconcile stuck payments, retry
//! customer syncs that failed, and record the run's time and last error. A dry run only plans.

use chrono::Utc;

use super::{App, CallError};
use crate::runtime::bindings::exports::paydesk::stripe::events::{AutopayDecision, AutopayResult};
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
        self.call_in(ctx, |p, s| {
            p.paydesk_stripe_events().call_autopay_plan(s, date)
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
        self.call_in(ctx, |p, s| {
            p.paydesk_stripe_events()
                .call_autopay_charge(s, invoice, date)
        })
    }

    /// Run the daily integrator for `tenant` on `date` (default: its local today). `progress` is
    /// told about each invoice charged.
    pub fn run_autopay(
        &self,
        tenant: &TenantId,
        date: Option<&str>,
        dry_run: bool,
        progress: &mut dyn FnMut(usize, usize),
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
            for invoice in &report.generated {
                let ctx = self.context(tenant, None)?;
                if let Err(e) = self.call_in(ctx, |p, s| {
                    p.paydesk_stripe_events().call_invoice_created(s, *invoice)
                }) {
                    report
                        .errors
                        .push(format!("invoice {invoice} (created): {e}"));
                }
            }
        }
        report.plan = self.autopay_plan(tenant, &date)?;
        if dry_run {
            return Ok(report);
        }
        // Every invoice of the plan goes to the plugin: it decides again under its claim and keeps
        // the decision, charge or skip and why, in the audit trail.
        let charges: Vec<i64> = report.plan.iter().map(|d| d.invoice_id).collect();
        for (n, invoice) in charges.iter().enumerate() {
            progress(n + 1, charges.len());
            match self.autopay_charge(tenant, *invoice, &date) {
                Ok(r) => report.results.push(r),
                Err(e) => report.errors.push(format!("invoice {invoice}: {e}")),
            }
        }
        if let Err(e) = self.reconcile(tenant, crate::db::now()) {
            report.errors.push(format!("reconciliation: {e}"));
        }
        self.retry_customer_syncs(tenant, &mut report);
        let last_error = report.errors.last().cloned();
        self.db()
            .record_autopay_run(tenant, crate::db::now(), last_error.as_deref())?;
        Ok(report)
    }

    /// Customers whose last sync to Stripe failed are synced again (REQUIREMENTS M3).
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
