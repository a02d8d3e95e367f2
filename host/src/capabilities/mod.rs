//! The host side of the WIT imports, one file per interface: `http` (Stripe only), `storage`
//! (tenant-scoped key/value), `email` (outbox), `helpdesk` (the records) and `log`. Each interface is
//! implemented on its own small per-call context (`HttpCtx`, `StorageCtx`, …) holding only what it
//! needs, built for one call by [`Capabilities::new`] and reached from the store's data through
//! [`HasCapabilities`] (as wasmtime-wasi reaches `WasiCtx` through a view); every call is scoped to
//! the tenant in its context, never to an id the guest passes. Host functions return
//! `wasmtime::Result<Result<T, E>>`: the outer error traps (host bug), the inner is a value for the
//! plugin. [`Services`] can carry an [`Observer`] that sees every value handed to the guest (tests
//! use it to prove no secret enters the sandbox); it is empty in production and must never change
//! what the guest gets.

pub mod email;
pub mod helpdesk;
pub mod http;
pub mod log;
pub mod pacing;
pub mod storage;
pub mod v0_1;

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use crate::contract::HostError;
use crate::contract::paydesk::stripe as contract;
use crate::db::{Database, DbError};
use crate::tenant::TenantContext;

pub use email::EmailCtx;
pub use helpdesk::HelpdeskCtx;
pub use http::{HttpConfig, HttpCtx};
pub use log::LogCtx;
pub use storage::StorageCtx;

/// Sees each value the host passes into the component: the name of the import (or export) and
/// the value. For tests and audits; it must not block for long, and it cannot change the value.
pub type GuestInputObserver = Arc<dyn Fn(&str, &dyn std::fmt::Debug) + Send + Sync>;

/// The observer of guest inputs, if any; cloned into every capability context.
#[derive(Clone, Default)]
pub struct Observer(Option<GuestInputObserver>);

impl Observer {
    /// Report `value`, about to enter the component through `name`, to the observer (if any).
    pub fn observe(&self, name: &str, value: &dyn std::fmt::Debug) {
        if let Some(observer) = &self.0 {
            observer(name, value);
        }
    }

    /// [`Observer::observe`] `value` and hand it back, for an import's return expression.
    pub(crate) fn observed<T: std::fmt::Debug>(&self, name: &str, value: T) -> T {
        self.observe(name, &value);
        value
    }
}

/// What the capabilities share across calls.
pub struct Services {
    pub db: Arc<dyn Database>,
    pub http: Arc<http::StripeHttp>,
    /// The app's metrics registry (`GET /metrics`).
    pub metrics: Arc<crate::metrics::Metrics>,
    observer: Observer,
}

impl Services {
    pub fn new(db: Arc<dyn Database>, http: HttpConfig) -> Services {
        Services {
            db,
            http: Arc::new(http::StripeHttp::new(http)),
            metrics: Arc::default(),
            observer: Observer::default(),
        }
    }

    /// Report every value passed into the component to `observer` from now on.
    pub fn set_guest_input_observer(&mut self, observer: GuestInputObserver) {
        self.observer = Observer(Some(observer));
    }

    /// Report `value`, about to enter the component through `name`, to the observer (if any).
    pub fn observe(&self, name: &str, value: &dyn std::fmt::Debug) {
        self.observer.observe(name, value);
    }
}

/// One plugin call's capabilities, each interface on its own context, all for one tenant.
pub struct Capabilities {
    pub http: HttpCtx,
    pub storage: StorageCtx,
    pub email: EmailCtx,
    pub helpdesk: HelpdeskCtx,
    pub log: LogCtx,
}

impl Capabilities {
    /// The capabilities of one call for `tenant`, from the shared services.
    pub fn new(services: &Services, tenant: TenantContext) -> Capabilities {
        let id = tenant.id.clone();
        let observer = services.observer.clone();
        Capabilities {
            http: HttpCtx {
                tenant: id.clone(),
                stripe: tenant.stripe.clone(),
                requests_per_second: tenant.limits.stripe_requests_per_second,
                http: services.http.clone(),
                db: services.db.clone(),
                metrics: services.metrics.clone(),
                observer: observer.clone(),
            },
            storage: StorageCtx {
                tenant: id.clone(),
                db: services.db.clone(),
                observer: observer.clone(),
            },
            email: EmailCtx {
                tenant: id.clone(),
                db: services.db.clone(),
                observer: observer.clone(),
            },
            log: LogCtx { tenant: id },
            helpdesk: HelpdeskCtx {
                claim_lease_seconds: services.http.claim_lease_seconds(),
                tenant,
                db: services.db.clone(),
                observer,
            },
        }
    }
}

/// Store data that holds a call's [`Capabilities`].
pub trait HasCapabilities: 'static {
    fn capabilities(&mut self) -> &mut Capabilities;
}

/// Link every import interface of the contract, each to its context in the store's data.
pub fn add_to_linker<T: HasCapabilities>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    contract::types::add_to_linker::<T, HasSelf<LogCtx>>(linker, |s| &mut s.capabilities().log)?;
    contract::log::add_to_linker::<T, HasSelf<LogCtx>>(linker, |s| &mut s.capabilities().log)?;
    contract::http::add_to_linker::<T, HasSelf<HttpCtx>>(linker, |s| &mut s.capabilities().http)?;
    contract::storage::add_to_linker::<T, HasSelf<StorageCtx>>(linker, |s| {
        &mut s.capabilities().storage
    })?;
    contract::email::add_to_linker::<T, HasSelf<EmailCtx>>(linker, |s| {
        &mut s.capabilities().email
    })?;
    contract::helpdesk::add_to_linker::<T, HasSelf<HelpdeskCtx>>(linker, |s| {
        &mut s.capabilities().helpdesk
    })?;
    Ok(())
}

/// The `types` interface has no functions; it is linked on the log context.
impl contract::types::Host for LogCtx {}

/// A database failure as the value the plugin sees; backend details stay in the host log.
pub(crate) fn host_error(tenant: &str, e: DbError) -> HostError {
    match e {
        DbError::NotFound(what) => HostError::NotFound(what),
        DbError::Conflict(what) => HostError::Conflict(what),
        DbError::Invalid(what) => HostError::Invalid(what),
        DbError::Backend(e) => {
            tracing::error!(tenant, error = %e, "database error in a plugin call");
            HostError::Unavailable("the helpdesk database is unavailable; try again".into())
        }
    }
}
