//! The host application: the runtime, the shared services and the Stripe API base, with one typed
//! method per plugin operation the CLI and the web app use. Owns building a call's tenant context
//! (settings and secret key from the database) and flattening sandbox, plugin and database failures
//! into [`CallError`]. Saving settings and customers, which mix host records and plugin calls, are
//! in their own files.

mod autopay;
mod customers;
mod documents;
pub mod new_card;
mod paying;
pub mod people;
pub mod plugins;
mod portal;
mod settings;
mod shared_runs;
mod templates;

pub use autopay::RunReport;
pub use settings::{SaveError, SettingsSave};
pub use shared_runs::holder_id;

use std::sync::Arc;

use crate::capabilities::{HttpConfig, Services};
use crate::contract::exports::paydesk::stripe::{admin, events, payments};
use crate::contract::{PaymentMethodType, PluginError};
use crate::db::{Database, DbError};
use crate::metrics::{CallOutcome, PluginVersion};
use crate::runtime::{Runtime, RuntimeConfig, SandboxError};
use crate::tenant::{Secret, StripeAccess, TenantContext, TenantId};

/// Default Stripe API base.
pub const DEFAULT_STRIPE_API_BASE: &str = "https://api.stripe.com";

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The plugin answered with an error value.
    #[error("{}", .0.message)]
    Plugin(Box<PluginError>),
    /// The sandbox stopped the call.
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    /// The host's own records.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<PluginError> for CallError {
    fn from(e: PluginError) -> Self {
        CallError::Plugin(Box::new(e))
    }
}

/// How the app is put together.
pub struct AppConfig {
    pub stripe_api_base: String,
    /// This server's public base URL (webhook endpoints and links point there).
    pub public_url: Option<String>,
    pub runtime: RuntimeConfig,
    pub http: HttpConfig,
    /// Plugin calls the daily run makes at a time (charges of all tenants together).
    pub autopay_workers: usize,
}

/// Default for [`AppConfig::autopay_workers`].
pub const DEFAULT_AUTOPAY_WORKERS: usize = 8;

/// The host application.
pub struct App {
    pub runtime: Runtime,
    pub services: Arc<Services>,
    pub stripe_api_base: String,
    pub public_url: Option<String>,
    /// Plugin calls the daily run makes at a time (at most the runtime's instance slots).
    pub autopay_workers: usize,
}

impl App {
    pub fn new(db: Arc<dyn Database>, config: AppConfig) -> anyhow::Result<App> {
        let slots = config.runtime.limits.concurrent_instances as usize;
        let runtime = Runtime::new(config.runtime)?;
        Ok(App {
            autopay_workers: config.autopay_workers.clamp(1, slots.max(1)),
            runtime,
            services: Arc::new(Services::new(db, config.http)),
            stripe_api_base: config.stripe_api_base,
            public_url: config.public_url,
        })
    }

    pub fn db(&self) -> &dyn Database {
        self.services.db.as_ref()
    }

    /// The context of a call for `tenant`, with its saved secret key (or `key` instead, to check a
    /// candidate before saving it).
    pub fn context(
        &self,
        tenant: &TenantId,
        key: Option<Secret>,
    ) -> Result<TenantContext, DbError> {
        let (record, secret_key) = match key {
            Some(k) => (self.db().tenant(tenant)?, Some(k)),
            None => self.db().tenant_with_key(tenant)?,
        };
        Ok(TenantContext {
            id: tenant.clone(),
            settings: record.settings,
            stripe: StripeAccess {
                api_base: self.stripe_api_base.clone(),
                secret_key,
            },
            limits: record.limits,
            plugin: record.plugin,
        })
    }

    /// The one way into the guest: run export `export` in a fresh sandbox for `ctx`, after showing
    /// `args` — every value handed to the guest — to the services' guest-input observer, and
    /// flatten the outcome (a trap or an exhausted limit becomes [`CallError`], as for every call).
    /// Each call is counted in the metrics: outcome, duration, and the fuel the export used.
    pub fn call_in<A: std::fmt::Debug, R>(
        &self,
        ctx: TenantContext,
        export: &'static str,
        args: &A,
        f: impl FnOnce(
            &crate::runtime::Plugin,
            &mut wasmtime::Store<crate::runtime::CallState>,
        ) -> wasmtime::Result<Result<R, PluginError>>,
    ) -> Result<R, CallError> {
        self.call_admitted(ctx, crate::runtime::Admission::Immediate, export, args, f)
    }

    /// [`App::call_in`] for the host's own batch work (the daily run's charges): the call waits
    /// for one of its tenant's instances instead of being refused, leaving the tenant half of
    /// its limit for its own requests meanwhile.
    pub fn call_queued_in<A: std::fmt::Debug, R>(
        &self,
        ctx: TenantContext,
        export: &'static str,
        args: &A,
        f: impl FnOnce(
            &crate::runtime::Plugin,
            &mut wasmtime::Store<crate::runtime::CallState>,
        ) -> wasmtime::Result<Result<R, PluginError>>,
    ) -> Result<R, CallError> {
        self.call_admitted(ctx, crate::runtime::Admission::Queued, export, args, f)
    }

    fn call_admitted<A: std::fmt::Debug, R>(
        &self,
        ctx: TenantContext,
        admission: crate::runtime::Admission,
        export: &'static str,
        args: &A,
        f: impl FnOnce(
            &crate::runtime::Plugin,
            &mut wasmtime::Store<crate::runtime::CallState>,
        ) -> wasmtime::Result<Result<R, PluginError>>,
    ) -> Result<R, CallError> {
        self.services.observe(export, args);
        let started = std::time::Instant::now();
        let mut fuel = None;
        // The component the tenant runs when the call starts serves all of it, and names it in
        // the metrics.
        let (outcome, version) = match self.runtime.plugin_for(&self.services, &ctx) {
            Ok(plugin) => {
                let outcome = self.runtime.call_on(
                    &plugin,
                    &self.services,
                    ctx,
                    admission,
                    |plugin, store| {
                        let before = store.get_fuel().ok();
                        let result = f(plugin, store);
                        fuel = before
                            .zip(store.get_fuel().ok())
                            .map(|(b, a)| b.saturating_sub(a));
                        result
                    },
                );
                (outcome, plugin.label().clone())
            }
            Err(e) => {
                let sha = ctx.plugin.as_deref().unwrap_or_default();
                (Err(e), PluginVersion::new("unloaded", sha))
            }
        };
        let kind = match &outcome {
            Ok(Ok(_)) => CallOutcome::Ok,
            Ok(Err(_)) => CallOutcome::PluginError,
            Err(e) => sandbox_outcome(e),
        };
        self.services
            .metrics
            .record_plugin_call(export, &version, kind, started.elapsed(), fuel);
        Ok(outcome??)
    }

    /// Price invoices with the tenant's fee settings.
    pub fn quote(
        &self,
        tenant: &TenantId,
        items: &[payments::QuoteItem],
        method: PaymentMethodType,
    ) -> Result<payments::Quotation, CallError> {
        let ctx = self.context(tenant, None)?;
        self.call_in(ctx, "payments.quote", &(items, &method), |p, s| {
            p.paydesk_stripe_payments().call_quote(s, items, &method)
        })
    }

    /// A customer was created or updated: sync it to Stripe when enabled.
    pub fn customer_saved(
        &self,
        tenant: &TenantId,
        customer: i64,
    ) -> Result<events::SyncOutcome, CallError> {
        let ctx = self.context(tenant, None)?;
        self.call_in(ctx, "events.customer-saved", &customer, |p, s| {
            p.paydesk_stripe_events().call_customer_saved(s, customer)
        })
    }

    /// A real call to Stripe with the saved key, or with `candidate` before it is saved.
    pub fn test_connection(
        &self,
        tenant: &TenantId,
        candidate: Option<Secret>,
    ) -> Result<admin::AccountSummary, CallError> {
        let ctx = self.context(tenant, candidate)?;
        self.call_in(ctx, "admin.test-connection", &(), |p, s| {
            p.paydesk_stripe_admin().call_test_connection(s)
        })
    }
}

/// How the sandbox stopped a call, as the metrics name it.
fn sandbox_outcome(e: &SandboxError) -> CallOutcome {
    match e {
        SandboxError::OutOfFuel { .. } => CallOutcome::OutOfFuel,
        SandboxError::Deadline { .. } => CallOutcome::Deadline,
        SandboxError::Memory { .. } => CallOutcome::Memory,
        SandboxError::Trap { .. } => CallOutcome::Trap,
        SandboxError::Instantiate { .. } => CallOutcome::Instantiate,
        SandboxError::Instances { .. } => CallOutcome::Instances,
    }
}

/// A failed call's error as a list of field errors, when it is one (`invalid-input`).
pub fn field_errors(
    e: &CallError,
) -> Option<&[crate::contract::paydesk::stripe::types::FieldError]> {
    match e {
        CallError::Plugin(p) if !p.field_errors.is_empty() => Some(&p.field_errors),
        _ => None,
    }
}
