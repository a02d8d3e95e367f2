//! The `storage` import: the plugin's key/value state, scoped to the calling tenant, with versions
//! for compare-and-swap. Keys ≤ 512 bytes, values ≤ 64 KiB; larger is an `invalid` value, not a trap.

use super::host_error;
use crate::db::KvEntry;
use crate::runtime::CallState;
use crate::runtime::bindings::HostError;
use crate::runtime::bindings::paydesk::stripe::storage::{Entry, Host, LookupResult};

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

impl CallState {
    fn kv<T>(
        &self,
        key: &str,
        value: Option<&[u8]>,
        op: impl FnOnce(&crate::tenant::TenantId) -> crate::db::DbResult<T>,
    ) -> Result<T, HostError> {
        check(key, value)?;
        op(&self.tenant.id).map_err(|e| host_error(self.tenant.id.as_str(), e))
    }
}

impl Host for CallState {
    fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Entry>, HostError>> {
        let db = self.services.db.clone();
        let got = self
            .kv(&key, None, |t| db.kv_get(t, &key))
            .map(|e| e.map(entry));
        self.services.observe(
            "storage.get",
            &got.as_ref().map(|e| e.as_ref().map(Observed)),
        );
        Ok(got)
    }

    fn lookup(&mut self, key: String) -> wasmtime::Result<Result<LookupResult, HostError>> {
        let db = self.services.db.clone();
        let got = self
            .kv(&key, None, |t| db.kv_get(t, &key))
            .map(|e| e.map(entry));
        self.services.observe(
            "storage.lookup",
            &got.as_ref().map(|e| e.as_ref().map(Observed)),
        );
        Ok(got.map(|entry| LookupResult { entry }))
    }

    fn put_new(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<u64, HostError>> {
        let db = self.services.db.clone();
        let put = self.kv(&key, Some(&value), |t| db.kv_put_new(t, &key, &value));
        Ok(self.services.observed("storage.put-new", put))
    }

    fn compare_and_swap(
        &mut self,
        key: String,
        expected_version: u64,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<u64, HostError>> {
        let db = self.services.db.clone();
        let swapped = self.kv(&key, Some(&value), |t| {
            db.kv_compare_and_swap(t, &key, expected_version, &value)
        });
        Ok(self.services.observed("storage.compare-and-swap", swapped))
    }

    fn delete(
        &mut self,
        key: String,
        expected_version: Option<u64>,
    ) -> wasmtime::Result<Result<bool, HostError>> {
        let db = self.services.db.clone();
        let deleted = self.kv(&key, None, |t| db.kv_delete(t, &key, expected_version));
        Ok(self.services.observed("storage.delete", deleted))
    }

    fn list_prefix(
        &mut self,
        prefix: String,
        start_after: Option<String>,
        limit: u32,
    ) -> wasmtime::Result<Result<Vec<Entry>, HostError>> {
        let db = self.services.db.clone();
        let tenant = self.tenant.id.clone();
        let listed: Result<Vec<Entry>, HostError> = db
            .kv_list(&tenant, &prefix, start_after.as_deref(), limit)
            .map(|v| v.into_iter().map(entry).collect())
            .map_err(|e| host_error(tenant.as_str(), e));
        self.services.observe(
            "storage.list-prefix",
            &listed
                .as_ref()
                .map(|v| v.iter().map(Observed).collect::<Vec<_>>()),
        );
        Ok(listed)
    }
}
