//! The `storage` import: the plugin's key/value state, scoped to the calling tenant, with versions
//! for compare-and-swap. Keys ≤ 512 bytes, values ≤ 64 KiB; larger is an `invalid` value, not a trap.

use std::sync::Arc;

use super::{Observer, host_error};
use crate::contract::HostError;
use crate::contract::paydesk::stripe::storage::{Entry, Host, LookupResult};
use crate::db::Database;
use crate::db::KvEntry;
use crate::tenant::TenantId;

/// The storage capability of one call: the tenant whose keys it reads and writes.
pub struct StorageCtx {
    pub(super) tenant: TenantId,
    pub(super) db: Arc<dyn Database>,
    pub(super) observer: Observer,
}

pub const MAX_KEY: usize = 512;
pub const MAX_VALUE: usize = 64 << 10;

fn check(key: &str, value: Option<&[u8]>) -> Result<(), HostError> {
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(HostError::Invalid(format!(
            "storage keys are 1-{MAX_KEY} bytes (got {})",
            key.len()
        )));
    }
    match value {
        Some(v) if v.len() > MAX_VALUE => Err(HostError::Invalid(format!(
            "storage values are at most {MAX_VALUE} bytes (got {})",
            v.len()
        ))),
        _ => Ok(()),
    }
}

/// An entry as an observer sees it: the value as (lossy) text, so what it says can be read.
struct Observed<'a>(&'a Entry);

impl std::fmt::Debug for Observed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("key", &self.0.key)
            .field("value", &String::from_utf8_lossy(&self.0.value))
            .field("version", &self.0.version)
            .field("updated_at", &self.0.updated_at)
            .finish()
    }
}

fn entry(e: KvEntry) -> Entry {
    Entry {
        key: e.key,
        value: e.value,
        version: e.version,
        updated_at: e.updated_at,
    }
}

impl StorageCtx {
    fn kv<T>(
        &self,
        key: &str,
        value: Option<&[u8]>,
        op: impl FnOnce(&TenantId) -> crate::db::DbResult<T>,
    ) -> Result<T, HostError> {
        check(key, value)?;
        op(&self.tenant).map_err(|e| host_error(self.tenant.as_str(), e))
    }
}

impl Host for StorageCtx {
    fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Entry>, HostError>> {
        let db = self.db.clone();
        let got = self
            .kv(&key, None, |t| db.kv_get(t, &key))
            .map(|e| e.map(entry));
        self.observer.observe(
            "storage.get",
            &got.as_ref().map(|e| e.as_ref().map(Observed)),
        );
        Ok(got)
    }

    fn lookup(&mut self, key: String) -> wasmtime::Result<Result<LookupResult, HostError>> {
        let db = self.db.clone();
        let got = self
            .kv(&key, None, |t| db.kv_get(t, &key))
            .map(|e| e.map(entry));
        self.observer.observe(
            "storage.lookup",
            &got.as_ref().map(|e| e.as_ref().map(Observed)),
        );
        Ok(got.map(|entry| LookupResult { entry }))
    }

    fn put_new(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<u64, HostError>> {
        let db = self.db.clone();
        let put = self.kv(&key, Some(&value), |t| db.kv_put_new(t, &key, &value));
        Ok(self.observer.observed("storage.put-new", put))
    }

    fn compare_and_swap(
        &mut self,
        key: String,
        expected_version: u64,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<u64, HostError>> {
        let db = self.db.clone();
        let swapped = self.kv(&key, Some(&value), |t| {
            db.kv_compare_and_swap(t, &key, expected_version, &value)
        });
        Ok(self.observer.observed("storage.compare-and-swap", swapped))
    }

    fn delete(
        &mut self,
        key: String,
        expected_version: Option<u64>,
    ) -> wasmtime::Result<Result<bool, HostError>> {
        let db = self.db.clone();
        let deleted = self.kv(&key, None, |t| db.kv_delete(t, &key, expected_version));
        Ok(self.observer.observed("storage.delete", deleted))
    }

    fn list_prefix(
        &mut self,
        prefix: String,
        start_after: Option<String>,
        limit: u32,
    ) -> wasmtime::Result<Result<Vec<Entry>, HostError>> {
        let db = self.db.clone();
        let tenant = self.tenant.clone();
        let listed: Result<Vec<Entry>, HostError> = db
            .kv_list(&tenant, &prefix, start_after.as_deref(), limit)
            .map(|v| v.into_iter().map(entry).collect())
            .map_err(|e| host_error(tenant.as_str(), e));
        self.observer.observe(
            "storage.list-prefix",
            &listed
                .as_ref()
                .map(|v| v.iter().map(Observed).collect::<Vec<_>>()),
        );
        Ok(listed)
    }
}
