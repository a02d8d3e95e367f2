//! The `log` import: the plugin's log lines into the host's tracing, tagged with the tenant and
//! truncated to a bounded length.

use crate::contract::paydesk::stripe::log::{Host, Level};
use crate::tenant::TenantId;

/// The log capability of one call: lines are tagged with its tenant.
pub struct LogCtx {
    pub(super) tenant: TenantId,
}

/// Longest plugin log line kept, in bytes.
const MAX_LINE: usize = 2048;

impl Host for LogCtx {
    fn write(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let mut end = message.len().min(MAX_LINE);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let line = &message[..end];
        let tenant = self.tenant.as_str();
        match level {
            Level::Trace => tracing::trace!(tenant, "plugin: {line}"),
            Level::Debug => tracing::debug!(tenant, "plugin: {line}"),
            Level::Info => tracing::info!(tenant, "plugin: {line}"),
            Level::Warn => tracing::warn!(tenant, "plugin: {line}"),
            Level::Error => tracing::error!(tenant, "plugin: {line}"),
        }
        Ok(())
    }
}
