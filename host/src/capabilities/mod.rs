//! The host side of the WIT imports, one file per interface: `http` (Stripe only), `storage`
//! (tenant-scoped key/value), `email` (outbox), `helpdesk` (the records) and `log`. Each is an
//! `impl …::Host for CallState`; every call is scoped to the tenant in the call state, never to an
//! id the guest passes. Host functions return `wasmtime::Result<Result<T, E>>`: the outer error
//! traps (host bug), the inner is a value for the plugin.

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

/// What the capabilities share across calls.
pub struct Services {
    pub db: Arc<dyn Database>,
    pub http: http::StripeHttp,
}

impl Services {
    pub fn new(db: Arc<dyn Database>, http: HttpConfig) -> Services {
        Services {
            db,
            http: http::StripeHttp::new(http),
        }
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
