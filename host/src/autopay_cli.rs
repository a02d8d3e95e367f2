//! `paydesk autopay`: the daily integrator run from the command line — every tenant with the
//! integrator on (or `--tenant`), for each tenant's local today (or `--date`), printing the plan
//! or what was charged as a table or JSON. `--dry-run` changes nothing.

use std::io::IsTerminal;

use anyhow::bail;
use serde_json::json;

use crate::app::{App, RunReport};
use crate::db::payment_status_name;
use crate::tenant::TenantId;

/// Options of one run.
pub struct AutopayArgs {
    pub date: Option<String>,
    pub dry_run: bool,
    /// Join the hosts' shared run (see `paydesk autopay --join`).
    pub join: bool,
    pub tenant: Option<TenantId>,
    pub json: bool,
}

fn money(m: &Option<crate::contract::Money>) -> String {
    m.as_ref().map_or_else(
        || "-".into(),
        |m| crate::access::money(m.amount, &m.currency),
    )
}

fn print_table(r: &RunReport, dry_run: bool) {
    println!(
        "tenant {} — {}{}: {} invoice(s) in the plan, {} generated",
        r.tenant,
        r.date,
        if dry_run {
            " (dry run: nothing changed)"
        } else {
            ""
        },
        r.plan.len(),
        r.generated.len()
    );
    if !r.plan.is_empty() {
        println!(
            "  {:<16} {:>8} {:<7} {:>7} {:>14}  REASON",
            "INVOICE", "CUSTOMER", "ACTION", "ATTEMPT", "AMOUNT"
        );
    }
    for d in &r.plan {
        println!(
            "  {:<16} {:>8} {:<7} {:>7} {:>14}  {}",
            d.invoice_number,
            d.customer_id,
            if d.charge { "charge" } else { "skip" },
            if d.charge {
                d.attempt.to_string()
            } else {
                "-".into()
            },
            money(&d.amount),
            d.reason
        );
    }
    for res in &r.results {
        println!(
            "  invoice {} → {}: {}",
            res.invoice_id,
            res.status.map(payment_status_name).unwrap_or("not charged"),
            res.message
        );
    }
    for rem in &r.reminders {
        println!(
            "  customer {} → {} expires {}: {}",
            rem.card.customer_id,
            rem.card.display_name,
            if rem.card.this_month {
                "this month"
            } else {
                "next month"
            },
            if rem.queued {
                "reminded"
            } else {
                "reminded before this month, or no accounts email"
            }
        );
    }
    for e in &r.errors {
        println!("  error: {e}");
    }
}

pub fn report_json(r: &RunReport) -> serde_json::Value {
    json!({
        "tenant": r.tenant,
        "date": r.date,
        "generated_invoices": r.generated,
        "plan": r.plan.iter().map(|d| json!({
            "invoice_id": d.invoice_id,
            "invoice_number": d.invoice_number,
            "customer_id": d.customer_id,
            "action": if d.charge { "charge" } else { "skip" },
            "attempt": d.charge.then_some(d.attempt),
            "amount": d.amount.as_ref().map(|m| m.amount),
            "currency": d.amount.as_ref().map(|m| m.currency.clone()),
            "reason": d.reason,
        })).collect::<Vec<_>>(),
        "results": r.results.iter().map(|x| json!({
            "invoice_id": x.invoice_id,
            "status": x.status.map(payment_status_name),
            "message": x.message,
        })).collect::<Vec<_>>(),
        "card_reminders": r.reminders.iter().map(|x| json!({
            "customer_id": x.card.customer_id,
            "payment_method_id": x.card.payment_method_id,
            "display_name": x.card.display_name,
            "exp_month": x.card.exp_month,
            "exp_year": x.card.exp_year,
            "this_month": x.card.this_month,
            "queued": x.queued,
        })).collect::<Vec<_>>(),
        "errors": r.errors,
    })
}

/// Run (or plan) for every selected tenant.
pub fn run(app: &App, args: &AutopayArgs) -> anyhow::Result<()> {
    let tenants: Vec<TenantId> = match &args.tenant {
        Some(t) => {
            let record = app.db().tenant(t)?;
            if !(record.settings.enabled && record.settings.halointegrator_stripe) {
                bail!(
                    "the Stripe integrator is not enabled for tenant {t} (settings: enabled, halointegrator_stripe)"
                );
            }
            vec![t.clone()]
        }
        None => app
            .db()
            .tenants()?
            .into_iter()
            .filter(|t| t.settings.enabled && t.settings.halointegrator_stripe)
            .map(|t| t.id)
            .collect(),
    };
    let show_progress = !args.json && std::io::stderr().is_terminal();
    let progress = |done: usize, total: usize| {
        if show_progress && (done.is_multiple_of(100) || done == total) {
            eprint!("\rcharging {done}/{total} ");
            if done == total {
                eprintln!();
            }
        }
    };
    let mut reports = Vec::new();
    let mut failed = false;
    // A real run joins the hosts' protocol: it takes each tenant's lease for the day. By hand it
    // waits while another host runs a tenant and runs even a day already done; with `--join` it
    // leaves those to their hosts (`None`).
    let outcomes: Vec<Option<_>> = if args.dry_run {
        app.run_autopay_many(&tenants, args.date.as_deref(), true, &progress)
            .into_iter()
            .map(Some)
            .collect()
    } else {
        app.run_autopay_shared(&tenants, args.date.as_deref(), !args.join, &progress)
    };
    for (tenant, outcome) in tenants.iter().zip(outcomes) {
        let Some(outcome) = outcome else {
            // Only with --join: another host holds or finished this tenant's day.
            if !args.json {
                println!("tenant {tenant}: left to another host (its day is taken or done)");
            }
            continue;
        };
        match outcome {
            Ok(r) => {
                failed |= !r.errors.is_empty();
                if !args.json {
                    print_table(&r, args.dry_run);
                }
                reports.push(r);
            }
            Err(e) => {
                failed = true;
                if !args.json {
                    println!("tenant {tenant}: error: {e}");
                }
                reports.push(RunReport {
                    tenant: tenant.to_string(),
                    errors: vec![e.to_string()],
                    ..RunReport::default()
                });
            }
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&reports.iter().map(report_json).collect::<Vec<_>>())?
        );
    } else if tenants.is_empty() {
        println!("no tenant has the Stripe integrator enabled");
    }
    if failed {
        bail!("the run finished with errors (see above)");
    }
    Ok(())
}
