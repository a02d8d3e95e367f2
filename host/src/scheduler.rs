//! Background work of `paydesk serve`: delivering the email outbox (when SMTP is configured) and
//! reconciling payments stuck in flight, on their own threads. (The daily integrator run joins
//! here.) Each loop logs its failures and keeps going.

use std::sync::Arc;
use std::time::Duration;

use crate::app::App;
use crate::mailer::Mailer;

/// How often the outbox is drained.
const MAIL_EVERY: Duration = Duration::from_secs(2);
/// How often stuck payments are re-read from Stripe.
const RECONCILE_EVERY: Duration = Duration::from_secs(600);

/// Start the background loops.
pub fn spawn(app: Arc<App>, mailer: Option<Mailer>) {
    if let Some(mailer) = mailer {
        let app = app.clone();
        std::thread::Builder::new()
            .name("paydesk-mailer".into())
            .spawn(move || {
                loop {
                    if let Err(e) = mailer.deliver(app.db(), 100) {
                        tracing::error!(error = %e, "email delivery pass failed");
                    }
                    std::thread::sleep(MAIL_EVERY);
                }
            })
            .expect("spawning the mailer thread");
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
