//! Background work of `paydesk serve`: the daily integrator run (once per tenant-local day, from
//! 01:00 in the tenant's time zone), delivering the email outbox (when SMTP is configured),
//! reconciling payments stuck in flight, and purging expired sessions, browser tokens, old sign-in
//! counters and page messages, and loading the registered plugin versions tenants run before
//! their calls need them, each on its own thread. Each loop logs its failures and
//! keeps going. Several servers on one database share the work: each tenant's daily run is taken
//! by one of them (a lease, `app::shared_runs`), a tenant's reconciliation runs on one host per
//! pass (a lease of the pass's length), each queued email is taken by one host for sending, and
//! autopay claims make every charge happen once whatever happens.

use std::sync::Arc;
use std::time::Duration;

use crate::app::App;
use crate::mailer::Mailer;

/// How often the registry is read for plugin versions that tenants run and this host has not
/// loaded yet (a call loads its version itself when it comes first; this spares it the compile).
const PRELOAD_EVERY: Duration = Duration::from_secs(3);
/// How often the outbox is drained.
const MAIL_EVERY: Duration = Duration::from_secs(2);
/// How often stuck payments are re-read from Stripe.
const RECONCILE_EVERY: Duration = Duration::from_secs(600);
/// How often the daily run looks whether a tenant's day has come (and whether a run another host
/// held was left behind): `PAYDESK_SCHEDULER_CHECK_SECONDS`, default 300.
fn daily_check_every() -> Duration {
    std::env::var("PAYDESK_SCHEDULER_CHECK_SECONDS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| (1..=86_400).contains(s))
        .map_or(Duration::from_secs(300), Duration::from_secs)
}
/// How long a host takes a queued email for before another host may try it.
const EMAIL_TAKEN_SECONDS: i64 = 300;
/// How often expired sign-in records are purged.
const PURGE_EVERY: Duration = Duration::from_secs(600);
/// How long sign-in counters and page messages are kept after their last use (longer than any
/// throttling rule remembers a streak).
const KEEP_SIGN_IN_RECORDS: i64 = 86_400;
/// The local hour from which a tenant's daily run may start.
const DAILY_RUN_HOUR: u32 = 1;

/// Start the background loops.
pub fn spawn(app: Arc<App>, mailer: Option<Mailer>) {
    if let Some(mailer) = mailer {
        let app = app.clone();
        std::thread::Builder::new()
            .name("paydesk-mailer".into())
            .spawn(move || {
                loop {
                    if let Err(e) = mailer.deliver(app.db(), 100, EMAIL_TAKEN_SECONDS) {
                        tracing::error!(error = %e, "email delivery pass failed");
                    }
                    std::thread::sleep(MAIL_EVERY);
                }
            })
            .expect("spawning the mailer thread");
    }
    {
        let app = app.clone();
        std::thread::Builder::new()
            .name("paydesk-daily".into())
            .spawn(move || {
                let every = daily_check_every();
                loop {
                    daily_runs_due(&app);
                    std::thread::sleep(every);
                }
            })
            .expect("spawning the daily run thread");
    }
    {
        let app = app.clone();
        std::thread::Builder::new()
            .name("paydesk-purge".into())
            .spawn(move || {
                loop {
                    purge(&app);
                    std::thread::sleep(PURGE_EVERY);
                }
            })
            .expect("spawning the purge thread");
    }
    {
        let app = app.clone();
        std::thread::Builder::new()
            .name("paydesk-plugins".into())
            .spawn(move || {
                // A failure is said once per component, not every pass.
                let mut said = std::collections::HashSet::new();
                loop {
                    preload_plugins(&app, &mut said);
                    std::thread::sleep(PRELOAD_EVERY);
                }
            })
            .expect("spawning the plugin preload thread");
    }
    std::thread::Builder::new()
        .name("paydesk-reconcile".into())
        .spawn(move || {
            loop {
                std::thread::sleep(RECONCILE_EVERY);
                reconcile_all(&app);
            }
        })
        .expect("spawning the reconcile thread");
}

/// Load the registered plugin versions some tenant runs that this host hasn't loaded yet.
pub fn preload_plugins(app: &App, said: &mut std::collections::HashSet<String>) {
    match app.db().plugins_in_use() {
        Ok(in_use) => {
            for (sha256, why) in app.runtime.preload(&app.services, &in_use) {
                if said.insert(sha256.clone()) {
                    tracing::error!(plugin = %sha256, error = %why, "a plugin version tenants run does not load on this host");
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "reading the plugin versions tenants run"),
    }
}

/// Delete expired sessions and browser tokens, and sign-in counters and page messages no longer
/// needed.
pub fn purge(app: &App) {
    match app
        .db()
        .purge_expired(crate::db::now(), KEEP_SIGN_IN_RECORDS)
    {
        Ok(p) if p != crate::db::Purged::default() => tracing::info!(
            sessions = p.sessions,
            devices = p.devices,
            counters = p.counters,
            messages = p.flashes,
            "purged expired sign-in records"
        ),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "purging expired sign-in records"),
    }
}

/// One reconciliation pass over every tenant with the integration enabled.
pub fn reconcile_all(app: &App) {
    let tenants = match app.db().tenants() {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "listing tenants for reconciliation");
            return;
        }
    };
    for tenant in tenants
        .into_iter()
        .filter(|t| t.settings.enabled && t.has_secret_key)
    {
        // One host per pass: the lease lasts the pass and is let run out, not finished.
        match app.db().take_lease(
            &tenant.id,
            "reconcile",
            crate::app::holder_id(),
            RECONCILE_EVERY.as_secs() as i64 - 1,
            false,
        ) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(tenant = tenant.id.as_str(), error = %e, "taking the reconciliation lease");
                continue;
            }
        }
        match app.reconcile(&tenant.id, crate::db::now()) {
            Ok(r) if r.updated > 0 => tracing::info!(
                tenant = tenant.id.as_str(),
                checked = r.checked,
                updated = r.updated,
                "reconciled payments"
            ),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(tenant = tenant.id.as_str(), error = %e, "reconciliation failed")
            }
        }
    }
}

/// Run the daily integrator for every tenant whose local day has come and that has not run today.
pub fn daily_runs_due(app: &App) {
    use chrono::{TimeZone, Timelike, Utc};
    let tenants = match app.db().tenants() {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "listing tenants for the daily run");
            return;
        }
    };
    let due: Vec<_> = tenants
        .into_iter()
        .filter(|t| t.settings.enabled && t.settings.halointegrator_stripe)
        .filter(|tenant| {
            let tz: chrono_tz::Tz = tenant.settings.time_zone.parse().unwrap_or(chrono_tz::UTC);
            let now = Utc::now().with_timezone(&tz);
            let ran_today = tenant
                .autopay_last_run
                .and_then(|t| Utc.timestamp_opt(t, 0).single())
                .is_some_and(|t| t.with_timezone(&tz).date_naive() == now.date_naive());
            !ran_today && now.hour() >= DAILY_RUN_HOUR
        })
        .map(|t| t.id)
        .collect();
    if due.is_empty() {
        return;
    }
    let outcomes = app.run_autopay_shared(&due, None, false, &|_, _| {});
    for (tenant, outcome) in due.iter().zip(outcomes) {
        let Some(outcome) = outcome else {
            continue; // another host's
        };
        match outcome {
            Ok(r) => tracing::info!(
                tenant = tenant.as_str(),
                date = r.date,
                planned = r.plan.len(),
                charged = r.results.len(),
                errors = r.errors.len(),
                "daily run"
            ),
            Err(e) => {
                tracing::error!(tenant = tenant.as_str(), error = %e, "daily run failed");
                let _ = app
                    .db()
                    .record_autopay_run(tenant, crate::db::now(), Some(&e.to_string()));
            }
        }
    }
}
