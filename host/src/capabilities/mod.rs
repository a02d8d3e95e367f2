//! The host side of the WIT imports, one file per interface: `http` (Stripe only), `storage`
//! (tenant-scoped key/value), `email` (outbox), `helpdesk` (the records) and `log`. Each is an
//! `impl …::Host for CallState`; every call is scoped to the tenant in the call state, never to an
//! id the guest passes. Host functions return `wasmtime::Result<Result<T, E>>`: the outer error
//! traps (host bug), the inner is a value for the plugin. [`Services`] can carry an observer that
//! sees every value handed to the guest (tests use it to prove no secret enters the sandbox); it is
//! `None` in production and must never change what the guest gets.

pub mod email;
pub mod helpdesk;
pub mod http;
pub mod log;
pub mod pacing;
pub mod storage;

use std::sync::Arc;

use crate::db::{Database, DbError};
use crate::runtime::CallState;
use crate::runtime::bindings::HostError;
use crate::runtime::bindings::paydesk::stripe::types;

pub use http::HttpConfig;

/// Sees each value the host passes into the component: the name of the import (or export) and
/// the value. For tests and audits; it must not block for long, and it cannot change the value.
pub type GuestInputObserver = Arc<dyn Fn(&str, &dyn std::fmt::Debug) + Send + Sync>;

/// What the capabilities share across calls.
pub struct Services {
    pub db: Arc<dyn Database>,
    pub http: http::StripeHttp,
    observer: Option<GuestInputObserver>,
}

impl Services {
    pub fn new(db: Arc<dyn Database>, http: HttpConfig) -> Services {
        Services {
            db,
            http: http::StripeHttp::new(http),
            observer: None,
        }
    }

    /// Report every value passed into the component to `observer` from now on.
    pub fn set_guest_input_observer(&mut self, observer: GuestInputObserver) {
        self.observer = Some(observer);
    }

    /// Report `value`, about to enter the component through `name`, to the observer (if any).
    pub fn observe(&self, name: &str, value: &dyn std::fmt::Debug) {
        if let Some(observer) = &self.observer {
            observer(name, value);
        }
    }

    /// [`Services::observe`] `value` and hand it back, for an import's return expression.
    pub(crate) fn observed<T: std::fmt::Debug>(&self, name: &str, value: T) -> T {
        self.observe(name, &value);
        value
    }
}

impl types::Host for CallState {}

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
